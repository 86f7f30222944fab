import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import CalsyncSandbox
import CalsyncSync
import CalsyncTestSupport
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The cost scenarios: worker CPU per job of an import of 100 events and of a `refresh_token`, how the
/// export rate and CPU per job change with concurrency and worker processes, and the scheduler's tick
/// under a worker exporting at full speed and over a million connections.
extension BenchRig {
    /// The CPU and outcome of one batch of jobs run by one worker process.
    struct JobCost: Sendable {
        var jobs: Int
        var seconds: Double
        var cpu: CPUSplit
        /// Whether every job did what it should (rows stored, tokens refreshed, nothing dead).
        var complete: Bool
        var check: String

        /// Worker CPU per job in microseconds.
        var workerMicroseconds: Double { cpu.worker / Double(max(jobs, 1)) * 1e6 }
    }

    /// Members whose calendars hold the import-cost scenario's events (connected in the set-up).
    static func costMembers(_ count: Int) -> [String] { (0..<count).map { "cost-\($0)" } }

    /// Puts `eventsEach` busy events in each member's calendar, then runs one full `import_window` per member
    /// in a fresh worker (the first stores every event), then the same again (nothing changed).
    func importCost(members: [String], eventsEach: Int) async throws -> (first: JobCost, again: JobCost) {
        let first = Date().addingTimeInterval(3_600)
        let spacing = 60.0 * 86_400 / Double(eventsEach)
        for member in members {
            let email = Self.email(member)
            for index in 0..<eventsEach {
                let start = first.addingTimeInterval(Double(index) * spacing)
                _ = sandbox.insertEvent(
                    .google, email: email, calendarID: email,
                    SandboxEvent(summary: "Busy \(index)", start: start, end: start.addingTimeInterval(1_800)))
            }
        }
        let worker = try await startWorker()
        do {
            let stored = "SELECT count(*) FROM external_busy_blocks WHERE member_id LIKE 'cost-%'"
            let firstRun = try await runJobs(on: worker, type: ImportWindowPayload.jobType, count: members.count) { index in
                ImportWindowPayload(memberID: members[index], provider: .google, fullResync: true)
            }
            let rows = try await count(stored)
            var firstCost = firstRun
            firstCost.complete = firstRun.complete && rows == members.count * eventsEach
            firstCost.check = "\(firstRun.check); \(grouped(Double(rows))) of \(grouped(Double(members.count * eventsEach))) busy blocks stored"
            let again = try await runJobs(on: worker, type: ImportWindowPayload.jobType, count: members.count) { index in
                ImportWindowPayload(memberID: members[index], provider: .google, fullResync: true)
            }
            await worker.stop()
            return (firstCost, again)
        } catch {
            await worker.stop()
            throw error
        }
    }

    /// Runs `rounds` rounds of one forced `refresh_token` job per member in a fresh worker (a round at a time: two
    /// refreshes of one connection at once share one token call); every job must reach the token endpoint.
    func refreshCost(members: [String], rounds: Int) async throws -> JobCost {
        let worker = try await startWorker()
        do {
            sandbox.clearRequests()
            var total = JobCost(jobs: 0, seconds: 0, cpu: CPUSplit(), complete: true, check: "no dead job")
            for _ in 0..<rounds {
                let run = try await runJobs(on: worker, type: RefreshTokenPayload.jobType, count: members.count) { index in
                    RefreshTokenPayload(memberID: members[index], provider: .google, force: true)
                }
                total.jobs += run.jobs
                total.seconds += run.seconds
                total.cpu.worker += run.cpu.worker
                total.cpu.redis += run.cpu.redis
                total.cpu.postgres += run.cpu.postgres
                total.cpu.bench += run.cpu.bench
                if !run.complete { total = JobCost(jobs: total.jobs, seconds: total.seconds, cpu: total.cpu, complete: false, check: run.check) }
            }
            let refreshed = sandbox.requests().filter { $0.path.contains("/oauth2/") && $0.status == 200 }.count
            total.complete = total.complete && refreshed == total.jobs
            total.check = "\(total.check); \(refreshed) token refreshes answered"
            await worker.stop()
            return total
        } catch {
            await worker.stop()
            throw error
        }
    }

    /// Pushes `count` jobs of one type at once into a running worker and measures its CPU until the queues are idle.
    private func runJobs<Payload: Encodable>(
        on worker: BenchProcess, type: String, count: Int, payload: (Int) -> Payload
    ) async throws -> JobCost {
        let deadBefore = try await deadCount()
        let enqueuedAt = JobQueue.EnqueueTime(Date())
        let tag = UUID().uuidString.prefix(8)
        let envelopes = try (0..<count).map { index in
            try JobQueue.envelope(id: "\(type)-\(tag)-\(index)", type: type, enqueuedAt: enqueuedAt, payload: payload(index))
        }
        let meter = CPUMeter(workerPID: worker.child.pid, servers: servers)
        let started = ContinuousClock.now
        try await push(type, envelopes)
        let finished = try await waitIdle(poll: .milliseconds(2))
        let cpu = meter.elapsed()
        let dead = try await deadCount() - deadBefore
        return JobCost(
            jobs: count, seconds: secondsOf(finished - started), cpu: cpu, complete: dead == 0,
            check: dead == 0 ? "no dead job" : "\(dead) DEAD jobs")
    }

    // MARK: scheduler under load and at scale

    /// Adds `connections` members (ids `<tag>-N`) with a due Google connection each, with statistics as
    /// autovacuum keeps them in production.
    func addDueConnections(_ connections: Int, tag: String) async throws {
        try await execute(
            "INSERT INTO organizations (id, plan, external_calendar_sync_enabled) VALUES ('org-sched', 'pro', true) ON CONFLICT (id) DO NOTHING")
        try await execute(
            "INSERT INTO members (id, organization_id) SELECT '\(tag)-' || g, 'org-sched' FROM generate_series(1, \(connections)) g")
        try await execute(
            """
            INSERT INTO calendar_connections (member_id, provider, access_token_expires_at)
            SELECT '\(tag)-' || g, 'google', now() + interval '1 day' FROM generate_series(1, \(connections)) g
            """)
        try await execute(
            """
            UPDATE connection_schedules s SET next_import_at = now() - interval '1 minute', last_full_resync_at = now()
            FROM calendar_connections c WHERE c.id = s.connection_id AND c.member_id LIKE '\(tag)-%'
            """)
        // Without statistics the planner sorts every due row.
        try await execute("VACUUM ANALYZE calendar_connections")
        try await execute("VACUUM ANALYZE connection_schedules")
        try await execute("ANALYZE members")
        try await execute("ANALYZE organizations")
    }

    /// Removes what `addDueConnections` added, and the Redis keys of `prefix` (queues and markers).
    func removeDueConnections(tag: String, prefix: String) async throws {
        try await execute("DELETE FROM calendar_connections WHERE member_id LIKE '\(tag)-%'")
        try await execute("DELETE FROM members WHERE id LIKE '\(tag)-%'")
        // The dead rows are cleaned up here, not by autovacuum beside the next scenario (after a million
        // connections it ran through the push scenario and doubled its latencies).
        for table in ["connection_schedules", "calendar_connections", "members"] { try await execute("VACUUM ANALYZE \(table)") }
        var cursor = "0"
        repeat {
            let reply = try await redis.send(["SCAN", cursor, "MATCH", "\(prefix):*", "COUNT", "10000"]).array ?? []
            cursor = reply.first?.string ?? "0"
            let keys = reply.count > 1 ? (reply[1].array ?? []).compactMap(\.string) : []
            if !keys.isEmpty { _ = try await redis.send(["UNLINK"] + keys) }
        } while cursor != "0"
    }

    /// What one `calsync scheduler --once` showed: its tick (from its log), wall time, peak RSS and jobs enqueued.
    struct SchedulerTick: Sendable {
        var tick: Double
        var wall: Double
        var peakRSS: Int
        var enqueued: Int
    }

    /// Runs `calsync scheduler --once` under its own Redis prefix (so that no worker takes its jobs),
    /// sampling its RSS every 20 ms.
    func schedulerOnce(prefix: String) async throws -> SchedulerTick {
        let process = try BenchProcess(
            rig: self, arguments: ["scheduler", "--once"], environment: environment(["CALSYNC_REDIS_PREFIX": prefix]), name: "scheduler")
        let started = ContinuousClock.now
        var peak = 0
        while process.child.isRunning {
            peak = max(peak, process.memory().peak, process.memory().rss)
            if ContinuousClock.now - started > .seconds(600) {
                await process.child.kill9()
                throw BenchError("calsync scheduler --once did not finish within 600 s")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let status = await process.child.wait(timeout: .seconds(5))
        let wall = secondsOf(ContinuousClock.now - started)
        let output = process.log
        guard status == 0 else { throw BenchError("calsync scheduler --once exited with \(status.map(String.init) ?? "?"):\n\(output)") }
        guard let range = output.range(of: #""duration_ms":"?[0-9]+"#, options: .regularExpression),
            let milliseconds = Double(output[range].filter(\.isNumber))
        else {
            throw BenchError("the scheduler did not log its tick duration:\n\(output)")
        }
        let enqueued = try await redis.send(["LLEN", "\(prefix):queue:import_window"]).int ?? 0
        return SchedulerTick(tick: milliseconds / 1000, wall: wall, peakRSS: peak, enqueued: enqueued)
    }

    /// One tick over `connections` due connections while a worker exports at full speed (`load` jobs pushed
    /// at once, the tick starting a second later); `held` says whether exports were still queued when it ended, and
    /// `exportsPerSecond` is the rate at which the worker took export jobs while the scheduler process ran.
    func schedulerUnderLoad(connections: Int, load: Int, members: [String]) async throws -> (tick: SchedulerTick, held: Bool, exportsPerSecond: Double) {
        let tag = "schedload"
        let prefix = "calsync-schedload"
        try await addDueConnections(connections, tag: tag)
        let worker = try await startWorker()
        do {
            let key = queue.readyKey("export_appointment")
            try await push("export_appointment", Self.exportEnvelopes(tag: "sl", count: load, members: members, base: Self.appointmentBase))
            try await Task.sleep(for: .seconds(1))
            let before = try await redis.send(["LLEN", key]).int ?? 0
            let started = ContinuousClock.now
            let tick = try await schedulerOnce(prefix: prefix)
            let after = try await redis.send(["LLEN", key]).int ?? 0
            // Jobs the worker took from its queue while the scheduler process ran (start-up and exit included).
            let rate = Double(before - after) / secondsOf(ContinuousClock.now - started)
            try await waitIdle()
            await worker.stop()
            try await removeDueConnections(tag: tag, prefix: prefix)
            return (tick, after > 0, rate)
        } catch {
            await worker.stop()
            throw error
        }
    }

    /// One tick over `connections` due connections on an otherwise idle machine.
    func schedulerAtScale(connections: Int) async throws -> SchedulerTick {
        let tag = "schedscale"
        let prefix = "calsync-schedscale"
        try await addDueConnections(connections, tag: tag)
        let tick = try await schedulerOnce(prefix: prefix)
        try await removeDueConnections(tag: tag, prefix: prefix)
        return tick
    }
}
