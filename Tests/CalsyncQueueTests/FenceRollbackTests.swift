import CalsyncRedis
import Foundation
import Testing

@testable import CalsyncQueue

/// The keys of a prefix as `DUMP` serialises them, with their remaining lifetime (ms, 0 = none).
func snapshot(_ redis: RedisClient, prefix: String) async throws -> [(key: String, ttl: Int, dump: [UInt8])] {
    var keys: [String] = []
    var cursor = "0"
    repeat {
        let parts = try #require(try await redis.send(["SCAN", cursor, "MATCH", prefix + ":*", "COUNT", "1000"]).array)
        cursor = try #require(parts[0].string)
        keys.append(contentsOf: (parts[1].array ?? []).compactMap { $0.string })
    } while cursor != "0"
    var out: [(key: String, ttl: Int, dump: [UInt8])] = []
    for key in keys {
        let dump = try #require(try await redis.send(["DUMP", key]).bytes)
        let ttl = try await redis.send(["PTTL", key]).int ?? -1
        out.append((key, max(0, ttl), dump))
    }
    return out
}

/// Puts a prefix back as `snapshot` saw it: what Redis holds after a restart from an older snapshot or a
/// failover to a lagging replica (every write since is lost).
func rollBack(_ redis: RedisClient, prefix: String, to saved: [(key: String, ttl: Int, dump: [UInt8])]) async throws {
    await deleteKeys(redis, prefix: prefix)
    for entry in saved {
        _ = try await redis.send(bytes: [Array("RESTORE".utf8), Array(entry.key.utf8), Array(String(entry.ttl).utf8), entry.dump])
    }
}

@Suite("Fences after Redis loses writes")
struct FenceRollbackTests {
    @Test func aStaleWorkerCannotTouchAClaimMadeAfterARollback() async throws {
        try await withQueue("rollback") { queue, redis in
            let prefix = queue.configuration.prefix
            _ = try await queue.enqueue(type: "t", payload: #"{"n":1}"#)
            _ = try await queue.enqueue(type: "t", payload: #"{"n":2}"#)
            // An earlier claim and ack, so the snapshot holds engine state (a counter) and not only the ready list.
            let (_, warmup) = try await queue.claim(workerID: "w", slots: [("t", 1)], total: 1)
            #expect(try await queue.ack(warmup.map { ($0.tid, $0.fence) }) == [true])
            let saved = try await snapshot(redis, prefix: prefix)

            // Worker A claims job 2, then Redis comes back from the snapshot: the claim is forgotten.
            let (_, first) = try await queue.claim(workerID: "a", slots: [("t", 1)], total: 1)
            let stale = try #require(first.first)
            try await rollBack(redis, prefix: prefix, to: saved)

            // Worker B claims the job again; its task must share nothing with A's.
            let (_, second) = try await queue.claim(workerID: "b", slots: [("t", 1)], total: 1)
            let current = try #require(second.first)
            #expect(current.raw == stale.raw)
            #expect(current.fence != stale.fence)
            #expect(current.tid != stale.tid)

            // A (still running, unaware) can neither renew, ack nor fail it.
            #expect(try await queue.renew([(stale.tid, stale.fence, [])]) == [stale.tid])
            #expect(try await queue.ack([(stale.tid, stale.fence)]) == [false])
            #expect(try await queue.fail(.retry, tid: stale.tid, fence: stale.fence, delay: .seconds(1), error: "x") == .stale)
            #expect(try await queue.fail(.dead, tid: stale.tid, fence: stale.fence, reason: "forbidden") == .stale)
            #expect(try await queue.fail(.handback, tid: stale.tid, fence: stale.fence) == .stale)
            #expect(try await queue.stats(knownTypes: ["t"]).dead == 0)
            #expect(try await queue.stats(knownTypes: ["t"]).inFlight == 1)

            // B holds it: its renewal and ack work.
            #expect(try await queue.renew([(current.tid, current.fence, [])]) == [])
            #expect(try await queue.ack([(current.tid, current.fence)]) == [true])
            #expect(try await queue.stats(knownTypes: ["t"]).inFlight == 0)
        }
    }

    @Test func fencesAreStringsFromRedisTimeACounterAndTheCallersNonce() async throws {
        try await withQueue("fenceform") { queue, redis in
            for n in 0..<3 { _ = try await queue.enqueue(type: "t", payload: #"{"n":\#(n)}"#) }
            let before = try await redisNowMs(redis)
            let (_, tasks) = try await queue.claim(workerID: "w", slots: [("t", 3)], total: 3)
            let after = try await redisNowMs(redis)
            #expect(tasks.count == 3)
            #expect(Set(tasks.map(\.fence)).count == 3)
            for task in tasks {
                let parts = task.fence.split(separator: "-")
                try #require(parts.count == 3)
                let ms = try #require(Int64(parts[0]))
                #expect(ms >= before && ms <= after)
                #expect(Int(parts[1]) != nil)
                #expect(parts[2].count == 32)
                // A fresh job's task id is the fence of its first claim.
                #expect(task.tid == task.fence)
            }
            // One nonce per claim call: the tasks of one call share it, the next call has another.
            #expect(Set(tasks.map { $0.fence.split(separator: "-").last }).count == 1)
            _ = try await queue.fail(.handback, tid: tasks[0].tid, fence: tasks[0].fence)
            let (_, again) = try await queue.claim(workerID: "w", slots: [("t", 1)], total: 1)
            let next = try #require(again.first)
            #expect(next.tid == tasks[0].tid)
            #expect(next.fence.split(separator: "-").last != tasks[0].fence.split(separator: "-").last)
        }
    }
}
