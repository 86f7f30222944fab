import CalsyncTestSupport
import CalsyncQueue
import CalsyncRedis
import CalsyncSandbox
import CalsyncSync
import Foundation

/// Scenarios 4–6: import cost, worker memory, and one scheduler tick over many connections.
extension BenchRig {
    /// What the import scenario showed.
    struct ImportRun: Sendable {
        struct Step: Sendable {
            var seconds: Double
            var requests: Int
            var rowsWritten: Int
        }
        var full: Step
        var stored: Int
        var oneChange: Step
        var noChange: Step
    }

    static let importer = "importer"

    /// A member whose Google calendar holds `events` busy events in the import window: one full import
    /// (timed from LPUSH to idle), then an incremental import after one change, then one with no change.
    func importScenario(events: Int) async throws -> ImportRun {
        let email = Self.email(Self.importer)
        let calendar = email  // Google's primary calendar id is the account's email.
        let first = Date().addingTimeInterval(3_600)
        let spacing = 80.0 * 86_400 / Double(events)
        var firstID = ""
        for index in 0..<events {
            let start = first.addingTimeInterval(Double(index) * spacing)
            let id = sandbox.insertEvent(
                .google, email: email, calendarID: calendar, SandboxEvent(summary: "Busy \(index)", start: start, end: start.addingTimeInterval(1_800)))
            if index == 0 { firstID = id }
        }
        let worker = try await startWorker()
        do {
            let full = try await importStep(fullResync: true)
            let stored = try await count("SELECT count(*) FROM external_busy_blocks WHERE member_id = '\(Self.importer)'")
            sandbox.updateEvent(.google, email: email, calendarID: calendar, eventID: firstID) { event in
                event.start = event.start.addingTimeInterval(3_600)
                event.end = event.end.addingTimeInterval(3_600)
            }
            let oneChange = try await importStep(fullResync: false)
            let noChange = try await importStep(fullResync: false)
            await worker.stop()
            return ImportRun(full: full, stored: stored, oneChange: oneChange, noChange: noChange)
        } catch {
            await worker.stop()
            throw error
        }
    }

    /// One `import_window` job of the importer: seconds from LPUSH to idle, provider requests, busy rows
    /// and cursor rows written (inserted, updated or deleted).
    private func importStep(fullResync: Bool) async throws -> ImportRun.Step {
        sandbox.clearRequests()
        let since = try await databaseNow()
        let blocksBefore = try await count("SELECT count(*) FROM external_busy_blocks WHERE member_id = '\(Self.importer)'")
        let payload = ImportWindowPayload(memberID: Self.importer, provider: .google, fullResync: fullResync)
        let envelope = try JobQueue.envelope(
            id: "import-\(UUID().uuidString)", type: ImportWindowPayload.jobType, enqueuedAt: .init(Date()), payload: payload)
        let started = ContinuousClock.now
        try await push("import_window", [envelope])
        let finished = try await waitIdle(poll: .milliseconds(2))
        let email = Self.email(Self.importer)
        let requests = sandbox.requests().filter { $0.account == email }.count
        let touched = try await count(
            """
            SELECT (SELECT count(*) FROM external_busy_blocks WHERE member_id = '\(Self.importer)' AND updated_at >= '\(since)')
                 + (SELECT count(*) FROM busy_sync_cursors c JOIN calendar_connections k ON k.id = c.connection_id
                    WHERE k.member_id = '\(Self.importer)' AND c.updated_at >= '\(since)')
            """)
        let blocksAfter = try await count("SELECT count(*) FROM external_busy_blocks WHERE member_id = '\(Self.importer)'")
        let deleted = max(0, blocksBefore - blocksAfter)
        return ImportRun.Step(seconds: secondsOf(finished - started), requests: requests, rowsWritten: touched + deleted)
    }

    // MARK: memory

    /// Worker RSS idle (default settings, after 3 s without work) and at the peak of `jobs` exports with
    /// `concurrency` in flight, each held 1 s at the provider.
    func memoryScenario(jobs: Int, concurrency: Int, members: [String]) async throws
        -> (idle: Int, idleWide: Int, peak: Int, maxInFlight: Int, run: ExportRun)
    {
        let idleWorker = try await startWorker()
        try await Task.sleep(for: .seconds(3))
        let idle = idleWorker.memory().rss
        await idleWorker.stop()

        let fault = sandbox.addFault(SandboxFault(.latency(milliseconds: 1_000), provider: .google))
        defer { sandbox.removeFault(id: fault) }
        let wide = try await startWorker(["CALSYNC_WORKER_CONCURRENCY": String(concurrency)])
        do {
            try await Task.sleep(for: .seconds(3))
            let idleWide = wide.memory().rss
            sandbox.clearRequests()
            let deadBefore = try await deadCount()
            let sampler = InFlightSampler(rig: self, worker: wide)
            let meter = CPUMeter(workerPID: wide.child.pid)
            let started = ContinuousClock.now
            let samples = Task { try await sampler.run() }
            try await push("export_appointment", Self.exportEnvelopes(tag: "mem", count: jobs, members: members, base: Self.appointmentBase))
            let finished = try await waitIdle()
            samples.cancel()
            let sampled = try await samples.value
            let peak = max(sampled.peakRSS, wide.memory().peak)
            let run = ExportRun(
                jobs: jobs, seconds: secondsOf(finished - started), providerWrites: successfulWrites().count,
                rows: try await count("SELECT count(*) FROM appointment_exports WHERE appointment_id LIKE 'mem-%'"),
                dead: try await deadCount() - deadBefore, inFlightMean: sampled.mean, inFlightMax: sampled.max, peakRSS: peak,
                cpu: meter.elapsed())
            await wide.stop()
            return (idle, idleWide, peak, sampled.max, run)
        } catch {
            await wide.stop()
            throw error
        }
    }

    // MARK: scheduler

    /// Adds `connections` members with a due Google connection each, runs `calsync scheduler --once`, and
    /// returns the tick's own duration (from its log), the process's wall time, and the jobs it enqueued.
    func schedulerScenario(connections: Int) async throws -> (tick: Double, wall: Double, enqueued: Int) {
        try await execute(
            "INSERT INTO organizations (id, plan, external_calendar_sync_enabled) VALUES ('org-sched', 'pro', true) ON CONFLICT (id) DO NOTHING")
        try await execute(
            "INSERT INTO members (id, organization_id) SELECT 'sched-' || g, 'org-sched' FROM generate_series(1, \(connections)) g")
        try await execute(
            """
            INSERT INTO calendar_connections (member_id, provider, access_token_expires_at)
            SELECT 'sched-' || g, 'google', now() + interval '1 day' FROM generate_series(1, \(connections)) g
            """)
        try await execute(
            """
            UPDATE connection_schedules s SET next_import_at = now() - interval '1 minute', last_full_resync_at = now()
            FROM calendar_connections c WHERE c.id = s.connection_id AND c.member_id LIKE 'sched-%'
            """)
        // Statistics as autovacuum keeps them in production (without them the planner sorts every due row).
        try await execute("VACUUM ANALYZE calendar_connections")
        try await execute("VACUUM ANALYZE connection_schedules")
        try await execute("ANALYZE members")
        try await execute("ANALYZE organizations")
        let queues = ["import_window", "refresh_token"].map { queue.readyKey($0) }
        func queued() async throws -> Int {
            var total = 0
            for key in queues { total += try await redis.send(["LLEN", key]).int ?? 0 }
            return total
        }
        let before = try await queued()
        let started = ContinuousClock.now
        let output = try await runCalsync(["scheduler", "--once"])
        let wall = secondsOf(ContinuousClock.now - started)
        let enqueued = try await queued() - before
        guard let range = output.range(of: #""duration_ms":"?[0-9]+"#, options: .regularExpression),
            let milliseconds = Double(output[range].filter(\.isNumber))
        else {
            throw BenchError("the scheduler did not log its tick duration:\n\(output)")
        }
        _ = try await redis.send(["DEL"] + queues)
        try await execute("DELETE FROM calendar_connections WHERE member_id LIKE 'sched-%'")
        try await execute("DELETE FROM members WHERE id LIKE 'sched-%'")
        return (milliseconds / 1000, wall, enqueued)
    }
}
