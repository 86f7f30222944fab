import CalsyncRedis
import CalsyncTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The real `calsync worker --diagnostic-jobs`, spawned: crashes, shutdowns, several processes, Redis restarts.
@Suite("Worker processes", .serialized)
struct WorkerProcessTests {
    private static var binaryReady: Bool {
        FileManager.default.isExecutableFile(atPath: TestEnvironment.calsyncBinary.path)
    }

    @Test(.timeLimit(.minutes(1)))
    func atLeastOnceAcrossSIGKILL() async throws {
        let prefix = TestEnvironment.uniqueName("calsync_e2e_kill")
        let redis = try await connect(TestEnvironment.redisURL)
        defer { redis.close() }
        let environment = ["CALSYNC_WORKER_CONCURRENCY": "8", "CALSYNC_JOB_LEASE_SECONDS": "1", "CALSYNC_SHUTDOWN_GRACE_SECONDS": "2"]
        let ids = try await enqueueDiag(redis, prefix: prefix, count: 150, payload: #"{"sleep_ms":20}"#)
        let first = try WorkerProcess(redisURL: TestEnvironment.redisURL, prefix: prefix, extraEnvironment: environment)
        defer { first.stop() }
        try await eventually("the first worker completes some jobs", timeout: .seconds(15), context: first.logTail) {
            try await done(redis, prefix: prefix).count >= 30
        }
        first.signal(SIGKILL)
        _ = await first.waitForExit(timeout: .seconds(5))
        let second = try WorkerProcess(redisURL: TestEnvironment.redisURL, prefix: prefix, extraEnvironment: environment)
        defer { second.stop() }
        try await eventually("every job completes", timeout: .seconds(25), context: second.logTail) {
            Set(try await done(redis, prefix: prefix)) == Set(ids)
        }
        let completions = try await done(redis, prefix: prefix)
        // Only jobs in flight when the first worker died (at most its concurrency) may have run twice.
        #expect(completions.count - Set(completions).count <= 8)
        #expect(try await count(redis, ["HLEN", "\(prefix):dead"]) == 0)
        second.signal(SIGTERM)
        #expect(await second.waitForExit(timeout: .seconds(5)) == 0)
        await cleanup(redis, prefix: prefix)
    }

    @Test(.timeLimit(.minutes(1)))
    func tenThousandJobsThroughFourProcesses() async throws {
        let prefix = TestEnvironment.uniqueName("calsync_e2e_many")
        let redis = try await connect(TestEnvironment.redisURL)
        defer { redis.close() }
        let ids = try await enqueueDiag(redis, prefix: prefix, count: 10_000, payload: "{}")
        var workers: [WorkerProcess] = []
        defer { workers.forEach { $0.stop() } }
        for _ in 0..<4 {
            workers.append(try WorkerProcess(redisURL: TestEnvironment.redisURL, prefix: prefix, extraEnvironment: ["CALSYNC_WORKER_CONCURRENCY": "32"]))
        }
        try await eventually("10,000 completions", timeout: .seconds(40), context: workers[0].logTail) {
            try await count(redis, ["LLEN", "\(prefix):diag:done"]) >= 10_000
        }
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { #expect(await worker.waitForExit(timeout: .seconds(10)) == 0) }
        let completions = try await done(redis, prefix: prefix)
        #expect(completions.count == 10_000, "some job completed twice")
        #expect(Set(completions) == Set(ids), "some job was lost")
        #expect(try await count(redis, ["ZCARD", "\(prefix):leases"]) == 0)
        #expect(try await count(redis, ["HLEN", "\(prefix):dead"]) == 0)
        await cleanup(redis, prefix: prefix)
    }

    @Test(.timeLimit(.minutes(1)))
    func sigtermFinishesShortJobsAndHandsBackLongOnes() async throws {
        let prefix = TestEnvironment.uniqueName("calsync_e2e_term")
        let redis = try await connect(TestEnvironment.redisURL)
        defer { redis.close() }
        let quick = try await enqueueDiag(redis, prefix: prefix, count: 4, payload: #"{"sleep_ms":300}"#, idPrefix: "quick")
        _ = try await enqueueDiag(redis, prefix: prefix, count: 4, payload: #"{"sleep_ms":60000}"#, idPrefix: "slow")
        let worker = try WorkerProcess(
            redisURL: TestEnvironment.redisURL, prefix: prefix,
            extraEnvironment: ["CALSYNC_WORKER_CONCURRENCY": "8", "CALSYNC_SHUTDOWN_GRACE_SECONDS": "2"])
        defer { worker.stop() }
        try await eventually("8 jobs in flight", timeout: .seconds(15), context: worker.logTail) {
            try await count(redis, ["ZCARD", "\(prefix):leases"]) == 8
        }
        let started = ContinuousClock.now
        worker.signal(SIGTERM)
        let status = await worker.waitForExit(timeout: .seconds(6))
        let took = ContinuousClock.now - started
        #expect(status == 0, "worker did not exit cleanly within the grace period\n\(worker.logTail)")
        #expect(took < .seconds(5), "shutdown took \(took)")
        #expect(Set(try await done(redis, prefix: prefix)) == Set(quick))
        #expect(try await count(redis, ["ZCARD", "\(prefix):leases"]) == 0)
        #expect(try await count(redis, ["ZCARD", "\(prefix):scheduled:diag_echo"]) == 4)
        // Handed back without burning an attempt.
        let tids = (try await redis.send(["ZRANGE", "\(prefix):scheduled:diag_echo", "0", "-1"]).array ?? []).compactMap { $0.string }
        for tid in tids {
            #expect(try await redis.send(["HGET", "\(prefix):task:\(tid)", "attempts"]).int == 0)
        }
        await cleanup(redis, prefix: prefix)
    }

    @Test(.timeLimit(.minutes(1)))
    func redisRestartDuringARun() async throws {
        let server = try await PrivateRedis()
        let prefix = TestEnvironment.uniqueName("calsync_e2e_restart")
        var redis = try await connect(server.url)
        let ids = try await enqueueDiag(redis, prefix: prefix, count: 300, payload: #"{"sleep_ms":10}"#)
        let worker = try WorkerProcess(redisURL: server.url, prefix: prefix, extraEnvironment: ["CALSYNC_WORKER_CONCURRENCY": "8"])
        defer { worker.stop() }
        try await eventually("some jobs done", timeout: .seconds(15), context: worker.logTail) {
            try await done(redis, prefix: prefix).count >= 50
        }
        redis.close()
        await server.shutdown()
        try await Task.sleep(for: .milliseconds(700))
        #expect(worker.isRunning, "the worker died while Redis was down\n\(worker.logTail)")
        try await server.start()
        redis = try await connect(server.url)
        defer { redis.close() }
        try await eventually("every job done after the restart", timeout: .seconds(30), context: worker.logTail) {
            Set(try await done(redis, prefix: prefix)) == Set(ids)
        }
        #expect(try await count(redis, ["HLEN", "\(prefix):dead"]) == 0)
        worker.signal(SIGTERM)
        #expect(await worker.waitForExit(timeout: .seconds(10)) == 0)
    }
}
