import CalsyncRedis
import Foundation
import Synchronization
import Testing

@testable import CalsyncQueue

/// Throughput and claim-to-ack overhead of one in-process worker; runs only with CALSYNC_QUEUE_BENCH=1
/// (a measurement, not a test: it asserts nothing about speed).
@Suite("Queue benchmark", .enabled(if: ProcessInfo.processInfo.environment["CALSYNC_QUEUE_BENCH"] == "1"))
struct QueueBenchmark {
    @Test func diagEchoThroughOneWorker() async throws {
        let jobs = Int(ProcessInfo.processInfo.environment["CALSYNC_QUEUE_BENCH_JOBS"] ?? "") ?? 20_000
        try await withQueue("bench") { queue, redis in
            let prefix = queue.configuration.prefix
            var batch: [[String]] = []
            for n in 0..<jobs {
                batch.append(["LPUSH", queue.readyKey("diag_echo"), #"{"id":"b-\#(n)","type":"diag_echo","payload":{"sleep_ms":0}}"#])
                if batch.count == 1000 {
                    _ = try await redis.pipeline(batch)
                    batch = []
                }
            }
            if !batch.isEmpty { _ = try await redis.pipeline(batch) }
            let samples = Mutex<[Duration]>([])
            let workerRedis = try await makeRedis(poolSize: 8)
            defer { workerRedis.close() }
            let workerQueue = JobQueue(redis: workerRedis, configuration: queue.configuration, logger: testLogger)
            var configuration = WorkerConfiguration()
            configuration.maintenanceInterval = .seconds(5)
            if let concurrency = Int(ProcessInfo.processInfo.environment["CALSYNC_QUEUE_BENCH_CONCURRENCY"] ?? "") {
                configuration.concurrency = concurrency
            }
            let worker = JobWorker(
                queue: workerQueue, handlers: [DiagnosticJobHandler(redis: workerRedis, prefix: prefix)], knownTypes: [],
                configuration: configuration, logger: testLogger, observer: { d in samples.withLock { $0.append(d) } })
            let started = ContinuousClock.now
            var elapsed = Duration.zero
            try await withWorker(worker) {
                try await waitUntil("all done", timeout: .seconds(120)) {
                    try await redis.send(["LLEN", "\(prefix):diag:done"]).int == jobs
                }
                elapsed = ContinuousClock.now - started
            }
            let sorted = samples.withLock { $0 }.sorted()
            func pct(_ p: Double) -> Duration { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            print("BENCH concurrency=\(configuration.concurrency) jobs=\(jobs) seconds=\(seconds) jobs/s=\(Double(jobs) / seconds) claim->ack p50=\(pct(0.5)) p99=\(pct(0.99))")
        }
    }
}
