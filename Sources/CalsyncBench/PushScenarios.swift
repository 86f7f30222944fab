import AsyncHTTPClient
import CalsyncQueue
import CalsyncSandbox
import CalsyncTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import PostgresNIO

#if canImport(Glibc)
    import Glibc
#endif

/// Scenario 7: push notifications: change → busy-block latency at 50 changes/s, and how many notifications
/// one `calsync webhooks` process accepts.
extension BenchRig {
    /// Starts `calsync webhooks` on a free port and waits until it listens.
    func startWebhooks(port: Int, metricsPort: Int = 0) async throws -> BenchProcess {
        let process = try BenchProcess(
            rig: self, arguments: ["webhooks"],
            environment: environment(pushEnvironment(port: port).merging(["CALSYNC_METRICS_PORT": String(metricsPort)]) { $1 }),
            name: "webhooks")
        try await process.waitForLog("calsync webhooks listening", timeout: .seconds(30))
        return process
    }

    /// The push settings of the processes of this scenario.
    func pushEnvironment(port: Int) -> [String: String] {
        [
            "CALSYNC_PUBLIC_URL": "http://127.0.0.1:\(port)", "CALSYNC_WEBHOOK_PORT": String(port),
            "CALSYNC_WEBHOOK_HOST": "127.0.0.1",
        ]
    }

    /// Opens channels for `members` (`renew_push`), inserts `rate` changes per second for `seconds` at the
    /// sandbox, and returns each change's time until it shows in `member_busy_intervals`.
    func pushLatency(members: [String], rate: Int, seconds: Int) async throws -> (latencies: [Double], missing: Int) {
        let port = try PrivateServers.freePort()
        let webhooks = try await startWebhooks(port: port)
        defer { webhooks.child.signal(SIGTERM) }
        let worker = try await startWorker(pushEnvironment(port: port))
        defer { worker.child.signal(SIGTERM) }
        try await push(
            "renew_push",
            members.map { JobQueue.envelope(id: "bench-push-\($0)", type: "renew_push", payload: #"{"member_id":"\#($0)","provider":"google"}"#) })
        let list = members.map { "'\($0)'" }.joined(separator: ",")
        let deadline = ContinuousClock.now + .seconds(60)
        while try await count("SELECT count(*) FROM calendar_connections WHERE push_status = 'active' AND member_id IN (\(list))") < members.count {
            guard ContinuousClock.now < deadline else { throw BenchError("push channels did not open; see the worker log:\n\(worker.log)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Task.sleep(for: .seconds(1))
        let base = (Date().timeIntervalSince1970 / 3600).rounded(.up) * 3600 + 40 * 86_400
        let total = rate * seconds
        var inserted: [Double: (at: ContinuousClock.Instant, index: Int)] = [:]
        let started = ContinuousClock.now
        var seen: [Int: Double] = [:]
        var next = 0
        while seen.count < total, ContinuousClock.now < started + .seconds(seconds + 20) {
            let due = min(total, Int(Double(rate) * secondsOf(ContinuousClock.now - started)) + 1)
            while next < due {
                let start = base + Double(next) * 1800
                let member = members[next % members.count]
                sandbox.insertEvent(
                    .google, email: Self.email(member), calendarID: Self.email(member),
                    SandboxEvent(
                        summary: "Push \(next)", start: Date(timeIntervalSince1970: start),
                        end: Date(timeIntervalSince1970: start + 1800)))
                inserted[start] = (ContinuousClock.now, next)
                next += 1
            }
            let rows = try await db.query(
                "SELECT extract(epoch FROM starts_at)::float8 FROM member_busy_intervals WHERE starts_at >= to_timestamp(\(base))",
                logger: logger)
            let now = ContinuousClock.now
            for try await start in rows.decode(Double.self) {
                guard let entry = inserted[start], seen[entry.index] == nil else { continue }
                seen[entry.index] = secondsOf(now - entry.at)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return (seen.values.sorted(), total - seen.count)
    }

    /// Sends Google-shaped notifications (unknown channels: each is checked against PostgreSQL behind the
    /// answer) from `concurrency` persistent connections for `seconds` (``NotificationLoad``); returns the
    /// latencies of the 200 answers, the other answers, the CPU each process used and the process's memory.
    func webhooksThroughput(concurrency: Int, seconds: Int) async throws -> WebhooksLoad {
        let port = try PrivateServers.freePort()
        let metricsPort = try PrivateServers.freePort()
        let webhooks = try await startWebhooks(port: port, metricsPort: metricsPort)
        defer { webhooks.child.signal(SIGTERM) }
        let before = ownServersCPU(webhooks: webhooks.child.pid)
        let results = try await NotificationLoad.run(
            host: "127.0.0.1", port: port, clients: concurrency, until: .now() + .seconds(Int64(seconds)))
        let after = ownServersCPU(webhooks: webhooks.child.pid)
        let cpu = CPUSplit(
            worker: after.worker - before.worker, redis: after.redis - before.redis, postgres: after.postgres - before.postgres,
            bench: after.bench - before.bench)
        let memory = webhooks.memory()
        let latencies = results.flatMap(\.latencies).sorted()
        let otherAnswers = results.reduce(0) { $0 + $1.otherAnswers }
        // Every answered notification must also have been checked behind its answer (or merged or dropped, which
        // the figure reports): the process's own counters say how each ended and how long the backlog took.
        let loadEnded = ContinuousClock.now
        var outcomes: [String: Int] = [:]
        while ContinuousClock.now < loadEnded + .seconds(30) {
            outcomes = try await webhookOutcomes(metricsPort: metricsPort)
            if outcomes.values.reduce(0, +) >= latencies.count + otherAnswers { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return WebhooksLoad(
            latencies: latencies, otherAnswers: otherAnswers, outcomes: outcomes,
            backlogSeconds: secondsOf(ContinuousClock.now - loadEnded), cpu: cpu, rss: memory.rss, peak: memory.peak)
    }

    /// CPU seconds so far of the webhooks process (as `worker`), this process, and this run's own Redis and
    /// PostgreSQL (other servers on the machine are left out).
    func ownServersCPU(webhooks: pid_t) -> CPUSplit {
        CPUMeter.sample(workerPIDs: [webhooks], servers: servers)
    }

    /// `calsync.webhooks.notifications` by outcome, read from the process's `/metrics`.
    func webhookOutcomes(metricsPort: Int) async throws -> [String: Int] {
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(metricsPort)/metrics"), timeout: .seconds(5))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 22))
        var outcomes: [String: Int] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("calsync_webhooks_notifications") {
            guard let open = line.range(of: #"outcome=""#), let close = line[open.upperBound...].firstIndex(of: "\""),
                let value = line.split(separator: " ").last.flatMap({ Double($0) })
            else { continue }
            outcomes[String(line[open.upperBound..<close]), default: 0] += Int(value)
        }
        return outcomes
    }
}

/// What the push-intake load measured.
struct WebhooksLoad: Sendable {
    /// Seconds per 200 answer, sorted.
    var latencies: [Double]
    /// Answers other than 200.
    var otherAnswers: Int
    /// How the notifications ended behind their answers (`refused`, `dropped`, `merged`, …), from the process's counters.
    var outcomes: [String: Int]
    /// Seconds from the end of the load until every answered notification was counted (its backlog).
    var backlogSeconds: Double
    /// CPU during the load (`worker` is the webhooks process).
    var cpu: CPUSplit
    var rss: Int
    var peak: Int
}
