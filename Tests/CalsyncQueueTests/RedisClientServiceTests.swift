import CalsyncRedis
import CalsyncTestSupport
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// `RedisClient` is a `Service`: nothing runs before `run()`, graceful shutdown closes it, and a command
/// waiting for a connection can be cancelled.
@Suite("Redis client as a service")
struct RedisClientServiceTests {

    @Test func aCommandSentBeforeRunWaitsForIt() async throws {
        let redis = RedisClient(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), logger: testLogger, poolSize: 1)
        let ping = Task { try await redis.send(["PING"]) }
        try await eventually("the command did not wait for run()") { redis.waitingCommands == 1 }
        let reply = try await redis.withRunning { try await ping.value }
        #expect(reply == .status("PONG"))
    }

    @Test func gracefulShutdownClosesTheClient() async throws {
        let redis = RedisClient(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), logger: testLogger, poolSize: 1)
        let group = ServiceGroup(configuration: .init(services: [redis], logger: testLogger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            #expect(try await redis.send(["PING"]) == .status("PONG"))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        await #expect {
            try await redis.send(["PING"])
        } throws: { error in
            (error as? RedisError)?.code == .closed
        }
    }

    @Test func aWaitingCommandIsCancelledWithoutWaitingForAConnection() async throws {
        let redis = try await makeRedis(poolSize: 1)
        defer { redis.close() }
        let admin = try await makeRedis(poolSize: 1)
        defer { admin.close() }
        let key = TestEnvironment.uniqueName("calsync_test_waiter")
        // The only connection blocks (up to 4 s, below the 5 s command timeout) until the test pushes to `key`.
        let blocked = Task { try await redis.send(["BLPOP", key, "4"]) }
        try await eventually("BLPOP did not take the connection") { (try? await admin.send(["CLIENT", "LIST"]))?.string?.contains("cmd=blpop") ?? false }
        let waiting = Task { try await redis.send(["PING"]) }
        try await eventually("the second command did not wait") { redis.waitingCommands == 1 }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(redis.waitingCommands == 0)
        _ = try await admin.send(["LPUSH", key, "go"])
        #expect(try await blocked.value == .array([.bulk(Array(key.utf8)), .bulk(Array("go".utf8))]))
    }
}
