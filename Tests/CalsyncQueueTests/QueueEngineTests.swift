import CalsyncJobs
import CalsyncRedis
import Foundation
import Testing

@testable import CalsyncQueue

@Suite("Queue engine (scripts)")
struct QueueEngineTests {
    @Test func claimTakesTheOldestFirstWithinAType() async throws {
        try await withQueue("fifo") { queue, _ in
            var ids: [String] = []
            for n in 0..<5 { ids.append(try await queue.enqueue(type: "t", payload: #"{"n":\#(n)}"#)) }
            var claimed: [String] = []
            for _ in 0..<5 {
                let (_, tasks) = try await queue.claim(workerID: "w", slots: [("t", 1)], total: 1)
                let task = try #require(tasks.first)
                guard case .valid(let id, _, _, _) = JobEnvelope.check(task.raw, listType: "t") else {
                    Issue.record("invalid")
                    return
                }
                claimed.append(id)
            }
            #expect(claimed == ids)
            let (_, none) = try await queue.claim(workerID: "w", slots: [("t", 5)], total: 5)
            #expect(none.isEmpty)
        }
    }

    @Test func enqueueBuildsTheProducerEnvelope() async throws {
        try await withQueue("env") { queue, redis in
            let id = try await queue.enqueue(type: "export_appointment", payload: #" {"member_id":"m1"} "#, id: "job-\"1\"")
            #expect(id == "job-\"1\"")
            let raw = try #require(try await redis.send(["LINDEX", queue.readyKey("export_appointment"), "0"]).bytes)
            guard case .valid(let parsedID, let enqueuedAt, let payload, _) = JobEnvelope.check(raw, listType: "export_appointment") else {
                Issue.record("the envelope is not valid: \(String(decoding: raw, as: UTF8.self))")
                return
            }
            #expect(parsedID == id)
            #expect(abs((enqueuedAt?.timeIntervalSinceNow ?? 99)) < 5)
            #expect(String(decoding: payload, as: UTF8.self) == #"{"member_id":"m1"}"#)
            await #expect(throws: QueueError.self) { try await queue.enqueue(type: "t", payload: "[1]") }
            await #expect(throws: QueueError.self) { try await queue.enqueue(type: "t", payload: "{") }
        }
    }

    @Test func staleFenceAckAndFailChangeNothing() async throws {
        try await withQueue("fence") { queue, redis in
            _ = try await queue.enqueue(type: "t", payload: "{}")
            let (_, first) = try await queue.claim(workerID: "a", slots: [("t", 1)], total: 1)
            let old = try #require(first.first)
            // Hand it back (as a lease expiry would) and let another worker claim it.
            #expect(try await queue.fail(.handback, tid: old.tid, fence: old.fence) == .scheduled)
            let (_, second) = try await queue.claim(workerID: "b", slots: [("t", 1)], total: 1)
            let current = try #require(second.first)
            #expect(current.tid == old.tid)
            #expect(current.fence != old.fence)
            #expect(current.attempts == 0)
            // The old holder's ack, retry, dead-letter and hand-back are no-ops.
            #expect(try await queue.ack([(old.tid, old.fence)]) == [false])
            #expect(try await queue.fail(.retry, tid: old.tid, fence: old.fence, delay: .seconds(1), error: "x") == .stale)
            #expect(try await queue.fail(.dead, tid: old.tid, fence: old.fence, reason: "forbidden") == .stale)
            #expect(try await queue.fail(.handback, tid: old.tid, fence: old.fence) == .stale)
            #expect(try await redis.send(["HGET", "\(queue.configuration.prefix):task:\(current.tid)", "fence"]).string == current.fence)
            #expect(try await redis.send(["HGET", "\(queue.configuration.prefix):task:\(current.tid)", "attempts"]).int == 0)
            #expect(try await queue.stats(knownTypes: ["t"]).dead == 0)
            // The current holder's ack works, once.
            #expect(try await queue.ack([(current.tid, current.fence)]) == [true])
            #expect(try await queue.ack([(current.tid, current.fence)]) == [false])
            #expect(try await queue.stats(knownTypes: ["t"]).inFlight == 0)
        }
    }

    @Test func retryIsScheduledWithinTheBackoffBoundAndRetryAfterIsAFloor() async throws {
        try await withQueue("backoff") { queue, redis in
            let policy = queue.configuration.retry
            _ = try await queue.enqueue(type: "t", payload: "{}")
            let (_, tasks) = try await queue.claim(workerID: "w", slots: [("t", 1)], total: 1)
            let task = try #require(tasks.first)
            let before = try await redisNowMs(redis)
            let delay = policy.delay(afterAttempt: 1, retryAfter: nil)
            #expect(try await queue.fail(.retry, tid: task.tid, fence: task.fence, delay: delay, error: "boom", httpStatus: 503) == .scheduled)
            let after = try await redisNowMs(redis)
            let due = try #require(try await redis.send(["ZSCORE", queue.scheduledKey("t"), task.tid]).int)
            #expect(Int64(due) >= before + delay.milliseconds && Int64(due) <= after + delay.milliseconds)
            #expect(Int64(due) <= after + policy.maxDelay(afterAttempt: 1).milliseconds)
            // Not claimable before it is due: checked when more than a second of the drawn delay is left,
            // so that a slow machine's own latency cannot make the claim come after the due time.
            if Int64(due) - (try await redisNowMs(redis)) > 1000 {
                let (_, early) = try await queue.claim(workerID: "w", slots: [("t", 1)], total: 1)
                #expect(early.isEmpty)
            }
            #expect(try await redis.send(["HGET", "\(queue.configuration.prefix):task:\(task.tid)", "attempts"]).int == 1)

            // Retry-After of 60 s with a tiny policy: due no earlier than now + 60 s.
            let tiny = RetryPolicy.exponentialJitter(base: .milliseconds(1), cap: .milliseconds(2), maxAttempts: 5)
            _ = try await queue.enqueue(type: "u", payload: "{}")
            let (_, more) = try await queue.claim(workerID: "w", slots: [("u", 1)], total: 1)
            let second = try #require(more.first)
            let floor = try await redisNowMs(redis) + 60_000
            let retryDelay = tiny.delay(afterAttempt: 1, retryAfter: .seconds(60))
            #expect(try await queue.fail(.retry, tid: second.tid, fence: second.fence, delay: retryDelay) == .scheduled)
            let secondDue = try #require(try await redis.send(["ZSCORE", queue.scheduledKey("u"), second.tid]).int)
            #expect(Int64(secondDue) >= floor)
        }
    }

    @Test func exhaustedAttemptsGoDeadWithTheLastError() async throws {
        try await withQueue("exhaust", configure: { $0.retry = .exponentialJitter(base: .zero, cap: .zero, maxAttempts: 3) }) { queue, _ in
            let id = try await queue.enqueue(type: "t", payload: #"{"password":"hunter2"}"#)
            var results: [JobQueue.FailResult] = []
            for attempt in 1...3 {
                let (_, tasks) = try await queue.claim(workerID: "w", slots: [("t", 1)], total: 1)
                let task = try #require(tasks.first)
                #expect(task.attempts == attempt - 1)
                let redacted = SecretRedaction.redactedBytes(task.raw)
                results.append(
                    try await queue.fail(.retry, tid: task.tid, fence: task.fence, error: "upstream 503 #\(attempt)", httpStatus: 503, recordID: id, redacted: redacted))
            }
            #expect(results == [.scheduled, .scheduled, .dead(recordID: id)])
            let record = try #require(try await queue.deadShow(id: id))
            #expect(record.reason == "attempts_exhausted")
            #expect(record.error == "upstream 503 #3")
            #expect(record.httpStatus == 503)
            #expect(record.attempts == 3)
            #expect(record.type == "t")
            #expect(record.firstFailedAt <= record.lastFailedAt)
            #expect(!record.raw.contains("hunter2"))
            #expect(record.raw.contains(#""password":"[redacted]""#))
        }
    }

    @Test func deferralBurnsNoAttemptAndIsBounded() async throws {
        try await withQueue("defer", configure: { $0.maxDeferrals = 2 }) { queue, _ in
            let id = try await queue.enqueue(type: "t", payload: "{}")
            for round in 0..<3 {
                let (_, tasks) = try await queue.claim(workerID: "w", slots: [("t", 1)], total: 1)
                let task = try #require(tasks.first)
                #expect(task.attempts == 0)
                #expect(task.deferrals == round)
                let result = try await queue.fail(.defer, tid: task.tid, fence: task.fence, delay: .zero, error: "later", recordID: id)
                #expect(result == (round < 2 ? .scheduled : .dead(recordID: id)))
            }
            #expect(try await queue.deadShow(id: id)?.reason == "deferrals_exhausted")
        }
    }

    @Test func leaseExpiryHandsBackAndRepeatedExpiriesGoDead() async throws {
        try await withQueue("lease", configure: { $0.leaseDuration = .milliseconds(100); $0.maxLeaseExpiries = 2 }) { queue, redis in
            let id = try await queue.enqueue(type: "t", payload: #"{"authorization_code":"4/secret"}"#)
            let (_, first) = try await queue.claim(workerID: "crashed", slots: [("t", 1)], total: 1)
            let task = try #require(first.first)
            try await Task.sleep(for: .milliseconds(150))
            // The next claim reaps the expired lease and gives the job out again: same task, new fence, no attempt burnt.
            let (_, second) = try await queue.claim(workerID: "w2", slots: [("t", 1)], total: 1)
            let again = try #require(second.first)
            #expect(again.tid == task.tid)
            #expect(again.fence != task.fence)
            #expect(again.attempts == 0)
            #expect(try await queue.ack([(task.tid, task.fence)]) == [false])
            // The second expiry isolates it; only expiries while it runs alone count, and two of them kill it.
            try await waitForLeasesToExpire(queue, redis)
            for crash in 0..<2 {
                let (_, alone) = try await queue.claim(workerID: "alone-\(crash)", slots: [("t", 1)], total: 1)
                #expect(alone.map(\.tid) == [task.tid])
                #expect(alone.first?.runsAlone == true)
                try await waitForLeasesToExpire(queue, redis)
            }
            let (_, last) = try await queue.claim(workerID: "w3", slots: [("t", 1)], total: 1)
            #expect(last.isEmpty)
            let record = try #require(try await queue.deadShow(id: id))
            #expect(record.reason == "lease_expired")
            #expect(!record.raw.contains("4/secret"))
            #expect(record.raw.contains("[redacted]"))
            #expect(try await queue.stats(knownTypes: ["t"]).inFlight == 0)
        }
    }

    @Test func renewalKeepsALeaseAlive() async throws {
        try await withQueue("renew", configure: { $0.leaseDuration = .seconds(1) }) { queue, _ in
            _ = try await queue.enqueue(type: "t", payload: "{}")
            let (_, tasks) = try await queue.claim(workerID: "w", slots: [("t", 1)], total: 1)
            let task = try #require(tasks.first)
            // Four renewals 300 ms apart outlive the 1 s lease; the margin keeps this true on a loaded machine.
            for _ in 0..<4 {
                try await Task.sleep(for: .milliseconds(300))
                #expect(try await queue.renew([(task.tid, task.fence, []), ("999999", "1", [])]) == ["999999"])
            }
            let (_, none) = try await queue.claim(workerID: "w2", slots: [("t", 1)], total: 1)
            #expect(none.isEmpty)
            #expect(try await queue.ack([(task.tid, task.fence)]) == [true])
        }
    }

    @Test func renewalExtendsTheJobsLocksAndReportsALockTakenOver() async throws {
        try await withQueue("renewlocks", configure: { $0.leaseDuration = .seconds(5) }) { queue, redis in
            _ = try await queue.enqueue(type: "t", payload: "{}")
            _ = try await queue.enqueue(type: "t", payload: "{}")
            let (_, tasks) = try await queue.claim(workerID: "w", slots: [("t", 2)], total: 2)
            #expect(tasks.count == 2)
            let prefix = queue.configuration.prefix
            let mine = JobLock(key: "\(prefix):lock:a", token: "tok-a")
            let other = JobLock(key: "\(prefix):lock:b", token: "tok-b")
            _ = try await redis.send(["SET", mine.key, mine.token, "PX", "800"])
            _ = try await redis.send(["SET", other.key, other.token, "PX", "800"])
            // A renewal extends the job's lock to a whole lease: it lives as long as the job.
            #expect(try await queue.renew([(tasks[0].tid, tasks[0].fence, [mine])]) == [])
            #expect((try await redis.send(["PTTL", mine.key]).int ?? 0) > 4000)
            // Someone else holds the second job's lock now: that job is lost, and its lock is left alone.
            _ = try await redis.send(["SET", other.key, "someone-else"])
            let lost = try await queue.renew([(tasks[0].tid, tasks[0].fence, [mine]), (tasks[1].tid, tasks[1].fence, [other])])
            #expect(lost == [tasks[1].tid])
            #expect(try await redis.send(["GET", other.key]).string == "someone-else")
            #expect(try await redis.send(["PTTL", other.key]).int == -1)
        }
    }

    @Test func deadLetterAdministration() async throws {
        try await withQueue("admin") { queue, redis in
            var ids: [String] = []
            for n in 0..<4 {
                let type = n % 2 == 0 ? "a" : "b"
                let id = try await queue.enqueue(type: type, payload: #"{"n":\#(n)}"#)
                ids.append(id)
                let (_, tasks) = try await queue.claim(workerID: "w", slots: [(type, 1)], total: 1)
                let task = try #require(tasks.first)
                _ = try await queue.fail(.dead, tid: task.tid, fence: task.fence, reason: "forbidden", error: "actor is not the member", httpStatus: nil, recordID: id)
                try await Task.sleep(for: .milliseconds(3))
            }
            let all = try await queue.deadList(type: nil, limit: 10)
            #expect(all.map(\.id) == ids.reversed())
            #expect(all.allSatisfy { $0.reason == "forbidden" && $0.attempts == 1 })
            #expect(try await queue.deadList(type: "b", limit: 10).map(\.id) == [ids[3], ids[1]])
            #expect(try await queue.deadList(type: nil, limit: 2).count == 2)
            let shown = try #require(try await queue.deadShow(id: ids[0]))
            #expect(shown.raw.contains(#""n":0"#))
            #expect(try await queue.deadShow(id: "nope") == nil)

            // JSON keys of a record.
            let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(shown)) as? [String: Any]
            #expect(Set(json?.keys ?? [:].keys) == ["id", "type", "reason", "error", "http_status", "attempts", "first_failed_at", "last_failed_at", "raw"])
            #expect(try JSONDecoder().decode(DeadRecord.self, from: JSONEncoder().encode(shown)).id == shown.id)

            // Retry one: back on its ready list as recorded.
            #expect(try await queue.deadRetry(id: ids[0]))
            #expect(try await queue.deadRetry(id: ids[0]) == false)
            #expect(try await redis.send(["LINDEX", queue.readyKey("a"), "0"]).string == shown.raw)
            // Retry all of type b.
            #expect(try await queue.deadRetryAll(type: "b") == 2)
            #expect(try await queue.stats(knownTypes: ["a", "b"]).ready == ["a": 1, "b": 2])
            // Purge.
            #expect(try await queue.deadPurge(id: ids[2]))
            #expect(try await queue.deadPurge(id: ids[2]) == false)
            #expect(try await queue.deadList(type: nil, limit: 10).isEmpty)

            for n in 0..<3 {
                let id = try await queue.enqueue(type: "a", payload: #"{"m":\#(n)}"#)
                let (_, tasks) = try await queue.claim(workerID: "w", slots: [("a", 5)], total: 5)
                for task in tasks { _ = try await queue.fail(.dead, tid: task.tid, fence: task.fence, reason: "forbidden", recordID: id) }
            }
            #expect(try await queue.deadPurgeAll(olderThan: .seconds(3600)) == 0)
            #expect(try await queue.deadPurgeAll(olderThan: nil) >= 3)
            #expect(try await queue.stats(knownTypes: []).dead == 0)
        }
    }

    @Test func deadLettersAreTrimmedByCountAndAge() async throws {
        try await withQueue("trim", configure: { $0.deadLetterMaxCount = 3 }) { queue, _ in
            func kill(_ n: Int) async throws -> String {
                let id = try await queue.enqueue(type: "t", payload: #"{"n":\#(n)}"#)
                let (_, tasks) = try await queue.claim(workerID: "w", slots: [("t", 1)], total: 1)
                let task = try #require(tasks.first)
                _ = try await queue.fail(.dead, tid: task.tid, fence: task.fence, reason: "forbidden", recordID: id)
                try await Task.sleep(for: .milliseconds(2))
                return id
            }
            var ids: [String] = []
            for n in 0..<5 { ids.append(try await kill(n)) }
            let stats = try await queue.stats(knownTypes: ["t"])
            #expect(stats.dead == 3)
            #expect(stats.deadTrimmed == 2)
            #expect(try await queue.deadList(type: nil, limit: 10).map(\.id) == ids.suffix(3).reversed())
        }
        try await withQueue("trimage", configure: { $0.deadLetterMaxAge = .milliseconds(100) }) { queue, _ in
            for n in 0..<2 {
                let id = try await queue.enqueue(type: "t", payload: #"{"n":\#(n)}"#)
                let (_, tasks) = try await queue.claim(workerID: "w", slots: [("t", 1)], total: 1)
                let task = try #require(tasks.first)
                _ = try await queue.fail(.dead, tid: task.tid, fence: task.fence, reason: "forbidden", recordID: id)
                if n == 0 { try await Task.sleep(for: .milliseconds(150)) }
            }
            let stats = try await queue.stats(knownTypes: ["t"])
            #expect(stats.dead == 1)
            #expect(stats.deadTrimmed == 1)
        }
    }

    @Test func statsReportDepthsAndOldestAge() async throws {
        try await withQueue("stats") { queue, redis in
            let old = #"{"id":"old","type":"a","enqueued_at":"2020-01-01T00:00:00Z","payload":{}}"#
            try await queue.enqueue(raw: Array(old.utf8), type: "a")
            _ = try await queue.enqueue(type: "a", payload: "{}")
            _ = try await queue.enqueue(type: "zzz", payload: "{}")
            let (_, tasks) = try await queue.claim(workerID: "w", slots: [("a", 1)], total: 1)
            _ = try await queue.fail(.retry, tid: tasks[0].tid, fence: tasks[0].fence, delay: .seconds(60))
            _ = try await queue.enqueue(type: "a", payload: "{}")
            let stats = try await queue.stats(knownTypes: ["a", "b"])
            #expect(stats.ready == ["a": 2, "b": 0, "zzz": 1])
            #expect(stats.scheduled == ["a": 1, "b": 0, "zzz": 0])
            #expect(stats.inFlight == 0)
            #expect((stats.oldestJobAgeSeconds ?? 0) < 60)
            let json = String(decoding: try JSONEncoder().encode(stats), as: UTF8.self)
            #expect(json.contains("\"in_flight\"") && json.contains("\"dead_trimmed\"") && json.contains("\"oldest_job_age_seconds\""))
            _ = redis
        }
    }
}
