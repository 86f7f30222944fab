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
    func startWebhooks(port: Int) async throws -> BenchProcess {
        let process = try BenchProcess(
            rig: self, arguments: ["webhooks"],
            environment: environment(pushEnvironment(port: port)), name: "webhooks")
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

    /// Sends Google-shaped notifications (unknown channels: each is checked against PostgreSQL) from
    /// `concurrency` clients for `seconds`; returns the answers' latencies and the process's memory.
    func webhooksThroughput(concurrency: Int, seconds: Int) async throws -> (latencies: [Double], rss: Int, peak: Int) {
        let port = try PrivateServers.freePort()
        let webhooks = try await startWebhooks(port: port)
        defer { webhooks.child.signal(SIGTERM) }
        let url = "http://127.0.0.1:\(port)/webhooks/google"
        let end = ContinuousClock.now + .seconds(seconds)
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for client in 0..<concurrency {
                group.addTask {
                    var local: [Double] = []
                    var index = 0
                    while ContinuousClock.now < end {
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "X-Goog-Channel-ID", value: "calsync-bench-\(client)-\(index)")
                        request.headers.add(name: "X-Goog-Channel-Token", value: "token")
                        request.headers.add(name: "X-Goog-Resource-ID", value: "resource")
                        request.headers.add(name: "X-Goog-Resource-State", value: "exists")
                        let sent = ContinuousClock.now
                        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
                        _ = try await response.body.collect(upTo: 4096)
                        local.append(secondsOf(ContinuousClock.now - sent))
                        index += 1
                    }
                    return local
                }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all.sorted()
        }
        let memory = webhooks.memory()
        return (latencies, memory.rss, memory.peak)
    }
}
