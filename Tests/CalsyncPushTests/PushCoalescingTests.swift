import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import CalsyncSync
import CalsyncSyncRedis
import CalsyncTestSupport
import Foundation
import Synchronization
import Testing

/// A Redis client on the test server; fails loudly (naming `make test`) when Redis is missing.
func makeRedis() async throws -> RedisClient {
    let client = RedisClient.running(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), logger: testLogger, poolSize: 8)
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

/// What the storm test's worker and notifiers saw.
final class StormRecord: Sendable {
    let imports = Atomic<Int>(0)
    let stop = Atomic<Bool>(false)
    let lastNotify = Mutex<ContinuousClock.Instant>(.now)
    let lastStart = Mutex<ContinuousClock.Instant?>(nil)
}

/// An `import_window` job as the gate writes it.
struct ImportEnvelope: Decodable {
    let type: String
    let payload: ImportWindowPayload
}

@Suite("push: coalesced imports on Redis")
struct PushCoalescingTests {
    @Test("while an import is queued, notifications add nothing; one arriving after it started waits for the debounce")
    func coalesces() async throws {
        let redis = try await makeRedis()
        let prefix = TestEnvironment.uniqueName("calsync_test_push")
        defer { redis.close() }
        let queue = JobQueue(redis: redis, configuration: QueueConfiguration(prefix: prefix), logger: testLogger)
        let gate = RedisPushImportGate(redis: redis, prefix: prefix, debounce: .milliseconds(300))
        #expect(try await gate.notifyChange(memberID: "m1", provider: .google) == .enqueued)
        #expect(try await gate.notifyChange(memberID: "m1", provider: .google) == .coalesced)
        #expect(try await gate.notifyChange(memberID: "m1", provider: .microsoft) == .enqueued)
        var claimed = try await queue.claim(workerID: "w", slots: [("import_window", 10)], total: 10).tasks
        #expect(claimed.count == 2)
        let payload = try JSONDecoder().decode(ImportEnvelope.self, from: Data(claimed[0].raw)).payload
        #expect(payload.memberID == "m1" && payload.windowStart == nil && !payload.fullResync)
        try await gate.importStarted(memberID: "m1", provider: .google)
        // Started moments ago: the next notification is scheduled after the debounce, the one after is merged.
        #expect(try await gate.notifyChange(memberID: "m1", provider: .google) == .delayed)
        #expect(try await gate.notifyChange(memberID: "m1", provider: .google) == .coalesced)
        claimed = try await queue.claim(workerID: "w", slots: [("import_window", 10)], total: 10).tasks
        #expect(claimed.isEmpty)
        try await Task.sleep(for: .milliseconds(400))
        claimed = try await queue.claim(workerID: "w", slots: [("import_window", 10)], total: 10).tasks
        #expect(claimed.count == 1)
        await deleteKeys(redis, prefix: prefix)
    }

    @Test("10,000 notifications for one member while imports run cost a handful of imports, and the last change is imported")
    func storm() async throws {
        let redis = try await makeRedis()
        let prefix = TestEnvironment.uniqueName("calsync_test_push")
        defer { redis.close() }
        let queue = JobQueue(redis: redis, configuration: QueueConfiguration(prefix: prefix), logger: testLogger)
        let gate = RedisPushImportGate(redis: redis, prefix: prefix, debounce: .milliseconds(500))
        let record = StormRecord()
        // A worker: claims imports, marks them started, and "imports" for 50 ms.
        let worker = Task {
            while true {
                let tasks = try await queue.claim(workerID: "w", slots: [("import_window", 4)], total: 4).tasks
                for task in tasks {
                    try await gate.importStarted(memberID: "m1", provider: .google)
                    record.lastStart.withLock { $0 = .now }
                    record.imports.add(1, ordering: .relaxed)
                    try await Task.sleep(for: .milliseconds(50))
                    _ = try await queue.ack([(task.tid, task.fence)])
                }
                if tasks.isEmpty {
                    if record.stop.load(ordering: .relaxed) { return }
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
        }
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for _ in 0..<1250 {
                        _ = try await gate.notifyChange(memberID: "m1", provider: .google)
                        record.lastNotify.withLock { $0 = .now }
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - started
        try await Task.sleep(for: .milliseconds(1500))
        record.stop.store(true, ordering: .relaxed)
        try await worker.value
        let count = record.imports.load(ordering: .relaxed)
        // At most one import per debounce while the storm lasts, plus the first and the last.
        let bound = Int(elapsed / .milliseconds(500)) + 3
        #expect(count >= 1 && count <= bound, "imports: \(count), storm lasted \(elapsed)")
        // No change is left behind: an import started after the last notification.
        let lastStartAt = try #require(record.lastStart.withLock { $0 })
        #expect(lastStartAt > record.lastNotify.withLock { $0 })
        await deleteKeys(redis, prefix: prefix)
    }
}
