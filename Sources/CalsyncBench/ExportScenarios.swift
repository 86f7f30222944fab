import CalsyncQueue
import CalsyncRedis
import CalsyncSandbox
import CalsyncStore
import CalsyncSync
import CalsyncTestSupport
import Foundation
import PostgresNIO

/// Scenarios 1–3: export throughput (with the machine's bare limit beside it), throughput under provider
/// latency, and enqueue-to-provider latency at a steady rate.
extension BenchRig {
    /// What one timed run of export jobs through a worker process showed.
    struct ExportRun: Sendable {
        var jobs: Int
        var seconds: Double
        var providerWrites: Int
        var rows: Int
        var dead: Int
        var inFlightMean: Double
        var inFlightMax: Int
        var peakRSS: Int
        var cpu: CPUSplit
        /// Redis commands per job, by command (from `INFO commandstats`), most frequent first.
        var redisCalls: [(String, Double)] = []
        /// PostgreSQL statements per job (transactions committed, from `pg_stat_database`).
        var postgresStatements = 0.0

        /// Round trips per job, as a short text.
        var roundTrips: String {
            let redis = redisCalls.map { "\($0.0) \(grouped($0.1, decimals: 2))" }.joined(separator: ", ")
            return "Redis calls per job: \(redis); PostgreSQL statements per job: \(grouped(postgresStatements, decimals: 2))"
        }

        var jobsPerSecond: Double { Double(jobs) / seconds }
        /// Every job reached the provider once and was recorded, none died.
        var complete: Bool { providerWrites == jobs && rows == jobs && dead == 0 }
        var check: String {
            complete
                ? "all \(grouped(Double(jobs))) events written once, no dead job"
                : "INCOMPLETE: \(providerWrites) provider writes, \(rows) rows, \(dead) dead of \(jobs) jobs"
        }
    }

    /// Enqueues `jobs` exports (all at once, for `members` round-robin) into `workers` fresh worker processes
    /// started with `environment`, and times from the first LPUSH until the queues are empty again; the
    /// worker CPU is the sum over the processes.
    func timedExports(
        tag: String, jobs: Int, members: [String], environment: [String: String] = [:], workers: Int = 1
    ) async throws -> ExportRun {
        var fleet: [BenchProcess] = []
        do {
            for _ in 0..<max(1, workers) { fleet.append(try await startWorker(environment)) }
        } catch {
            for process in fleet { await process.stop() }
            throw error
        }
        let worker = fleet[0]
        do {
            sandbox.clearRequests()
            let deadBefore = try await deadCount()
            let envelopes = Self.exportEnvelopes(tag: tag, count: jobs, members: members, base: Self.appointmentBase)
            let sampler = InFlightSampler(rig: self, worker: worker)
            let meter = CPUMeter(workerPIDs: fleet.map(\.child.pid), servers: servers)
            let redisBefore = try await redisCommandCounts()
            let commitsBefore = try await postgresCommits()
            let started = ContinuousClock.now
            let samples = Task { try await sampler.run() }
            try await push("export_appointment", envelopes)
            let finished = try await waitIdle()
            let cpu = meter.elapsed()
            let redisAfter = try await redisCommandCounts()
            samples.cancel()
            let sampled = try await samples.value
            var run = ExportRun(
                jobs: jobs, seconds: secondsOf(finished - started), providerWrites: successfulWrites().count,
                rows: try await count("SELECT count(*) FROM appointment_exports WHERE appointment_id LIKE '\(tag)-%'"),
                dead: try await deadCount() - deadBefore, inFlightMean: sampled.mean, inFlightMax: sampled.max,
                peakRSS: worker.memory().peak, cpu: cpu)
            run.redisCalls = redisAfter.compactMap { command, calls -> (String, Double)? in
                let perJob = Double(calls - (redisBefore[command] ?? 0)) / Double(jobs)
                return perJob >= 0.01 ? (command, perJob) : nil
            }.sorted { $0.1 > $1.1 }
            for process in fleet { await process.stop() }
            // A backend reports its counters when it ends (or when idle): read them once the worker is gone.
            try await Task.sleep(for: .milliseconds(200))
            run.postgresStatements = Double(try await postgresCommits() - commitsBefore) / Double(jobs)
            return run
        } catch {
            for process in fleet { await process.stop() }
            throw error
        }
    }


    /// Calls so far per Redis command (`INFO commandstats`); the benchmark's own polling is included.
    func redisCommandCounts() async throws -> [String: Int] {
        let info = try await redis.send(["INFO", "commandstats"]).string ?? ""
        var counts: [String: Int] = [:]
        for line in info.split(separator: "\r\n") where line.hasPrefix("cmdstat_") {
            let name = line.dropFirst("cmdstat_".count).prefix { $0 != ":" }
            if let range = line.range(of: "calls="), let calls = Int(line[range.upperBound...].prefix { $0.isNumber }) {
                counts[String(name)] = calls
            }
        }
        return counts
    }

    /// Transactions committed in the database so far (every statement outside a transaction is one).
    func postgresCommits() async throws -> Int {
        try await count("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
    }

    // MARK: bare limit

    /// The bare limit of this machine for `jobs` exports: the claim and ack scripts alone (same envelopes,
    /// same concurrency, no handler), then the PostgreSQL statements of one export alone (member and
    /// export state in one read, then the record), each timed; the limit is `jobs / (redis + postgres seconds)`.
    func bareLimit(jobs: Int, members: [String], concurrency: Int) async throws -> (redis: Double, postgres: Double) {
        // Redis: the engine's own scripts under another prefix.
        let bare = JobQueue(redis: redis, configuration: QueueConfiguration(prefix: "calsync-bare"), logger: logger)
        let envelopes = Self.exportEnvelopes(tag: "bare", count: jobs, members: members, base: Self.appointmentBase)
        let key = bare.readyKey("export_appointment")
        var start = 0
        while start < envelopes.count {
            let end = min(start + 1_000, envelopes.count)
            _ = try await redis.pipeline(envelopes[start..<end].map { ["LPUSH", key, $0] })
            start = end
        }
        let redisStarted = ContinuousClock.now
        var acked = 0
        while acked < jobs {
            let (_, tasks) = try await bare.claim(workerID: "bare", slots: [("export_appointment", concurrency)], total: concurrency)
            if tasks.isEmpty { break }
            acked += try await withThrowingTaskGroup(of: Int.self) { group in
                for task in tasks {
                    group.addTask { try await bare.ack([(task.tid, task.fence)]).first == true ? 1 : 0 }
                }
                return try await group.reduce(0, +)
            }
        }
        let redisSeconds = secondsOf(ContinuousClock.now - redisStarted)
        guard acked == jobs else { throw BenchError("bare claim/ack: \(acked) of \(jobs) acknowledged") }

        // PostgreSQL: the three statements of one export, `concurrency` at a time.
        let store = PostgresSyncStore(client: db, logger: logger)
        let connections = try await connectionIDs(members)
        let postgresStarted = ContinuousClock.now
        try await Self.exportStatements(store: store, members: members, connections: connections, jobs: jobs, concurrency: concurrency, tag: "bare")
        let postgresSeconds = secondsOf(ContinuousClock.now - postgresStarted)
        try await execute("DELETE FROM appointment_exports WHERE appointment_id LIKE 'bare-%'")
        let keys = try await redis.send(["KEYS", "calsync-bare:*"]).array?.compactMap(\.string) ?? []
        if !keys.isEmpty { _ = try await redis.send(["DEL"] + keys) }
        return (redisSeconds, postgresSeconds)
    }

    /// The connection id of each member.
    func connectionIDs(_ members: [String]) async throws -> [String: String] {
        let rows = try await db.query(
            "SELECT member_id, id::text FROM calendar_connections WHERE member_id = ANY(\(members))", logger: logger)
        var ids: [String: String] = [:]
        for try await (member, id) in rows.decode((String, String).self) { ids[member] = id }
        return ids
    }

    // MARK: steady-rate latency

    /// Enqueues exports one by one at `rate` per second for `count` jobs into a fresh default worker and
    /// returns each job's time from its LPUSH to the arrival of its write at the provider, in milliseconds.
    func steadyLatency(rate: Double, count jobs: Int, members: [String]) async throws -> [Double] {
        let worker = try await startWorker()
        do {
            sandbox.clearRequests()
            let base = Self.appointmentBase
            let key = queue.readyKey("export_appointment")
            var enqueued: [String: [Date]] = [:]
            let interval = 1.0 / rate
            let clock = ContinuousClock()
            let started = clock.now
            for index in 0..<jobs {
                try await clock.sleep(until: started + .seconds(Double(index) * interval))
                let member = members[index % members.count]
                let at = Date()
                let envelope = Self.exportEnvelope(tag: "s", index: index, member: member, base: base)
                _ = try await redis.send(["LPUSH", key, envelope])
                enqueued[Self.email(member), default: []].append(at)
            }
            try await waitIdle()
            await worker.stop()
            // Each member's jobs are 1/rate × members apart (1 s at 200/s over 200 members), far more than a
            // job takes, so a member's k-th provider write belongs to its k-th job.
            var arrivals: [String: [Date]] = [:]
            for record in successfulWrites() { if let account = record.account { arrivals[account, default: []].append(record.time) } }
            var latencies: [Double] = []
            for (account, times) in enqueued {
                let writes = arrivals[account] ?? []
                guard writes.count == times.count else {
                    throw BenchError("steady latency: \(account) got \(writes.count) writes for \(times.count) jobs")
                }
                for (sent, arrived) in zip(times, writes.sorted()) { latencies.append(arrived.timeIntervalSince(sent) * 1000) }
            }
            return latencies.sorted()
        } catch {
            await worker.stop()
            throw error
        }
    }
}

/// Samples the number of jobs in flight (and the worker's memory) every 25 ms until cancelled.
struct InFlightSampler: Sendable {
    let rig: BenchRig
    let worker: BenchProcess

    struct Samples: Sendable {
        var mean = 0.0
        var max = 0
        var peakRSS = 0
    }

    func run() async throws -> Samples {
        var values: [Int] = []
        var peak = 0
        while !Task.isCancelled {
            // Cancelled mid-read (the run is over): what was sampled so far is the answer.
            guard let current = try? await rig.inFlight() else { break }
            // Only the busy part of the run counts toward the mean.
            if current > 0 { values.append(current) }
            peak = Swift.max(peak, worker.memory().rss)
            try? await Task.sleep(for: .milliseconds(25))
        }
        let mean = values.isEmpty ? 0 : Double(values.reduce(0, +)) / Double(values.count)
        return Samples(mean: mean, max: values.max() ?? 0, peakRSS: peak)
    }
}
