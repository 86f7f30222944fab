import CalsyncJobs
import CalsyncRedis
import CalsyncTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Testing

@testable import CalsyncQueue

/// A quiet logger for tests.
let testLogger: Logger = {
    var logger = Logger(label: "calsync.test")
    logger.logLevel = .critical
    return logger
}()

/// A Redis client on the test server; fails the test loudly (naming `make test`) when Redis is missing.
func makeRedis(poolSize: Int = 4) async throws -> RedisClient {
    let configuration = try RedisConfiguration(url: TestEnvironment.redisURL)
    let client = RedisClient.running(configuration: configuration, logger: testLogger, poolSize: poolSize)
    do {
        _ = try await client.send(["PING"])
    } catch {
        client.close()
        Issue.record(Comment(rawValue: TestEnvironment.missingServer("Redis", url: TestEnvironment.redisURL, underlying: error)))
        throw error
    }
    return client
}

/// Deletes every key of a test prefix.
func deleteKeys(_ redis: RedisClient, prefix: String) async {
    var cursor = "0"
    repeat {
        guard let reply = try? await redis.send(["SCAN", cursor, "MATCH", prefix + ":*", "COUNT", "1000"]),
            let parts = reply.array, parts.count == 2, let next = parts[0].string
        else { return }
        cursor = next
        let keys = (parts[1].array ?? []).compactMap { $0.string }
        if !keys.isEmpty { _ = try? await redis.send(["DEL"] + keys) }
    } while cursor != "0"
}

/// A queue on a fresh prefix; the keys are deleted afterwards.
func withQueue<T>(
    _ name: String = "q", configure: (inout QueueConfiguration) -> Void = { _ in },
    _ body: (JobQueue, RedisClient) async throws -> T
) async throws -> T {
    let redis = try await makeRedis()
    var configuration = QueueConfiguration(prefix: TestEnvironment.uniqueName("calsync_test_\(name)"))
    configure(&configuration)
    let queue = JobQueue(redis: redis, configuration: configuration, logger: testLogger)
    do {
        let result = try await body(queue, redis)
        await deleteKeys(redis, prefix: configuration.prefix)
        redis.close()
        return result
    } catch {
        await deleteKeys(redis, prefix: configuration.prefix)
        redis.close()
        throw error
    }
}

/// Runs a worker in a service group during `body`, then shuts it down gracefully; returns how long the shutdown took.
@discardableResult
func withWorker(
    _ worker: JobWorker, _ body: () async throws -> Void
) async throws -> Duration {
    let group = ServiceGroup(services: [worker], logger: testLogger)
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            try await body()
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
        let started = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return ContinuousClock.now - started
    }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes; records a failure on timeout.
func waitUntil(
    _ what: String, timeout: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("timed out waiting for: \(what)", sourceLocation: sourceLocation)
    throw CancellationError()
}

/// The ids completed by diagnostic jobs, in completion order.
func doneIDs(_ redis: RedisClient, prefix: String) async throws -> [String] {
    (try await redis.send(["LRANGE", "\(prefix):diag:done", "0", "-1"]).array ?? []).compactMap { $0.string }
}

/// Redis `TIME` in milliseconds.
func redisNowMs(_ redis: RedisClient) async throws -> Int64 {
    let parts = try await redis.send(["TIME"]).array ?? []
    return Int64(parts[0].int ?? 0) * 1000 + Int64(parts[1].int ?? 0) / 1000
}

/// A worker configuration for tests: fast polling and maintenance.
func testWorkerConfiguration(concurrency: Int = 8) -> WorkerConfiguration {
    var configuration = WorkerConfiguration()
    configuration.concurrency = concurrency
    configuration.idlePollInterval = .milliseconds(5)
    configuration.maintenanceInterval = .milliseconds(100)
    configuration.unknownTypeSweepInterval = .milliseconds(100)
    configuration.shutdownGrace = .seconds(5)
    return configuration
}

/// A handler for tests that runs a closure.
struct ClosureHandler: JobHandler {
    let jobType: String
    let body: @Sendable (Job, JobContext) async throws -> JobOutcome

    func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        try await body(job, context)
    }
}

/// Polls `condition` (an observed state, not a fixed sleep) for up to 5 s.
func eventually(_ what: Comment, _ condition: () async -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(5)
    while await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record(what)
            return
        }
        try await Task.sleep(for: .milliseconds(2))
    }
}
