import CalsyncTestSupport
import CalsyncQueue
import CalsyncRedis
import CalsyncSandbox
import CalsyncSync
import Foundation

/// Scenarios 4–5: import cost and worker memory (the scheduler's tick is in CostScenarios.swift).
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
            let meter = CPUMeter(workerPID: wide.child.pid, servers: servers)
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
}
