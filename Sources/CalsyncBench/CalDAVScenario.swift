import CalsyncQueue
import CalsyncSync
import CalsyncTestSupport
import Foundation

/// Scenario 7: a CalDAV import of 10,000 events against the local Radicale (scripts/with-services.sh starts it).
extension BenchRig {
    static let caldavImporter = "caldav-importer"

    /// What the CalDAV import showed.
    struct CalDAVImportRun: Sendable {
        var full: ImportRun.Step
        var stored: Int
        var noChange: ImportRun.Step
        var oneChange: ImportRun.Step
        var uploadSeconds: Double
    }

    /// Uploads `events` events into a fresh Radicale calendar (one PUT of the whole calendar), connects a member
    /// to it through `connect_calendar`, then times a full import, an import with no change and one after a change.
    /// Nil when no Radicale runs (`scripts/services.sh deps` not run).
    func caldavImportScenario(events: Int) async throws -> CalDAVImportRun? {
        let environment = ProcessInfo.processInfo.environment
        guard let base = environment["CALSYNC_TEST_RADICALE_URL"], RadicaleUsers.path != nil else { return nil }
        let user = "bench-\(UUID().uuidString.prefix(8).lowercased())"
        let password = "pw-\(UUID().uuidString)"
        try RadicaleUsers.set(user, password)
        let calendar = "\(base)/\(user)/busy/"
        let first = Calendar(identifier: .gregorian).startOfDay(for: Date()).addingTimeInterval(86_400 + 8 * 3600)
        let spacing = 80.0 * 86_400 / Double(events)
        var text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync bench//EN\r\n"
        for index in 0..<events {
            let start = first.addingTimeInterval(Double(index) * spacing)
            text += "BEGIN:VEVENT\r\nUID:bench-\(index)\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:\(Self.icalUTC(start))\r\n"
                + "DTEND:\(Self.icalUTC(start.addingTimeInterval(1_800)))\r\nSUMMARY:Busy \(index)\r\nEND:VEVENT\r\n"
        }
        text += "END:VCALENDAR\r\n"
        let uploadStarted = ContinuousClock.now
        // PUT of a whole calendar to a new collection path makes the calendar with every event in it.
        let status = try Self.curl("PUT", calendar, user: user, password: password, body: text, contentType: "text/calendar")
        guard (200..<300).contains(status) else { throw BenchError("Radicale refused the bench calendar (HTTP \(status))") }
        let uploadSeconds = secondsOf(ContinuousClock.now - uploadStarted)

        try await execute(
            """
            INSERT INTO organizations (id, plan, external_calendar_sync_enabled) VALUES ('\(Self.organization)', 'pro', true)
            ON CONFLICT (id) DO NOTHING
            """)
        try await execute(
            "INSERT INTO members (id, organization_id, time_zone) VALUES ('\(Self.caldavImporter)', '\(Self.organization)', 'Europe/Berlin')")
        let worker = try await startWorker(["CALSYNC_LOG_LEVEL": "debug"])
        do {
            let payload: [String: Any] = [
                "member_id": Self.caldavImporter, "actor_member_id": Self.caldavImporter, "provider": "caldav",
                "server_url": base + "/", "username": user, "password": password,
            ]
            // Connecting runs the first import too; it is not timed (the timed one below is a full resync).
            try await push("connect_calendar", [JobQueue.envelope(id: "connect-\(Self.caldavImporter)", type: "connect_calendar", payload: try Self.json(payload))])
            _ = try await waitIdle(timeout: .seconds(300))
            let full = try await caldavImportStep(worker, fullResync: true)
            let stored = try await count("SELECT count(*) FROM external_busy_blocks WHERE member_id = '\(Self.caldavImporter)'")
            let noChange = try await caldavImportStep(worker, fullResync: false)
            let moved = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//calsync bench//EN\r\nBEGIN:VEVENT\r\nUID:bench-extra\r\n"
                + "DTSTAMP:20261101T000000Z\r\nDTSTART:\(Self.icalUTC(first.addingTimeInterval(600)))\r\n"
                + "DTEND:\(Self.icalUTC(first.addingTimeInterval(1_200)))\r\nSUMMARY:Extra\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
            _ = try Self.curl("PUT", calendar + "extra.ics", user: user, password: password, body: moved, contentType: "text/calendar")
            let oneChange = try await caldavImportStep(worker, fullResync: false)
            await worker.stop()
            return CalDAVImportRun(full: full, stored: stored, noChange: noChange, oneChange: oneChange, uploadSeconds: uploadSeconds)
        } catch {
            await worker.stop()
            throw error
        }
    }

    /// One `import_window` of the CalDAV importer: seconds from LPUSH to idle, requests to Radicale (the worker's
    /// debug lines `provider request`), busy and cursor rows written.
    private func caldavImportStep(_ worker: BenchProcess, fullResync: Bool) async throws -> ImportRun.Step {
        let since = try await databaseNow()
        let requestsBefore = worker.log.components(separatedBy: "provider request").count
        let blocksBefore = try await count("SELECT count(*) FROM external_busy_blocks WHERE member_id = '\(Self.caldavImporter)'")
        let payload = ImportWindowPayload(memberID: Self.caldavImporter, provider: .caldav, fullResync: fullResync)
        let envelope = try JobQueue.envelope(
            id: "import-\(UUID().uuidString)", type: ImportWindowPayload.jobType, enqueuedAt: .init(Date()), payload: payload)
        let started = ContinuousClock.now
        try await push("import_window", [envelope])
        let finished = try await waitIdle(timeout: .seconds(300), poll: .milliseconds(2))
        // The log line of the last request may land a moment after the job's end.
        try await Task.sleep(for: .milliseconds(200))
        let requests = worker.log.components(separatedBy: "provider request").count - requestsBefore
        let touched = try await count(
            """
            SELECT (SELECT count(*) FROM external_busy_blocks WHERE member_id = '\(Self.caldavImporter)' AND updated_at >= '\(since)')
                 + (SELECT count(*) FROM busy_sync_cursors c JOIN calendar_connections k ON k.id = c.connection_id
                    WHERE k.member_id = '\(Self.caldavImporter)' AND c.updated_at >= '\(since)')
            """)
        let blocksAfter = try await count("SELECT count(*) FROM external_busy_blocks WHERE member_id = '\(Self.caldavImporter)'")
        return ImportRun.Step(seconds: secondsOf(finished - started), requests: requests, rowsWritten: touched + max(0, blocksBefore - blocksAfter))
    }

    /// `YYYYMMDDTHHMMSSZ`.
    static func icalUTC(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    /// One request with curl; its HTTP status.
    static func curl(_ method: String, _ url: String, user: String, password: String, body: String, contentType: String) throws -> Int {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString).ics")
        try body.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, "-u", "\(user):\(password)",
            "-H", "Content-Type: \(contentType)", "--data-binary", "@\(file.path)", url,
        ]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Int(String(decoding: data, as: UTF8.self)) ?? 0
    }
}
