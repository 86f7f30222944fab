import CalsyncJobs
import CalsyncRedis
import Foundation
import Synchronization
import Testing

@testable import CalsyncQueue

/// Counts jobs in flight per type and remembers the highest count.
final class ConcurrencyProbe: Sendable {
    private let state = Mutex<(current: [String: Int], max: [String: Int], order: [String])>(([:], [:], []))

    func enter(_ type: String, id: String) {
        state.withLock { state in
            state.current[type, default: 0] += 1
            state.max[type] = max(state.max[type] ?? 0, state.current[type]!)
            state.order.append(id)
        }
    }

    func leave(_ type: String) { state.withLock { $0.current[type, default: 0] -= 1 } }
    var maxima: [String: Int] { state.withLock { $0.max } }
    var order: [String] { state.withLock { $0.order } }
}

@Suite("Job worker")
struct JobWorkerTests {
    @Test func runsJobsOfATypeOldestFirst() async throws {
        try await withQueue("wfifo") { queue, redis in
            var ids: [String] = []
            for n in 0..<20 { ids.append(try await queue.enqueue(type: "diag_echo", payload: #"{"n":\#(n)}"#)) }
            let handler = DiagnosticJobHandler(redis: redis, prefix: queue.configuration.prefix)
            let worker = JobWorker(queue: queue, handlers: [handler], knownTypes: [], configuration: testWorkerConfiguration(concurrency: 1), logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("20 jobs done") { try await doneIDs(redis, prefix: queue.configuration.prefix).count == 20 }
            }
            #expect(try await doneIDs(redis, prefix: queue.configuration.prefix) == ids)
        }
    }

    @Test func perTypeLimitHoldsAndOtherTypesAreNotStarved() async throws {
        try await withQueue("limits") { queue, _ in
            let probe = ConcurrencyProbe()
            let finished = Mutex<[String]>([])
            func handler(_ type: String, sleep: Duration) -> ClosureHandler {
                ClosureHandler(jobType: type) { job, _ in
                    probe.enter(type, id: job.id)
                    try await Task.sleep(for: sleep)
                    probe.leave(type)
                    finished.withLock { $0.append(type) }
                    return .completed
                }
            }
            for _ in 0..<30 { _ = try await queue.enqueue(type: "bulk", payload: "{}") }
            for _ in 0..<10 { _ = try await queue.enqueue(type: "quick", payload: "{}") }
            var configuration = testWorkerConfiguration(concurrency: 8)
            configuration.perTypeLimits = ["bulk": 3]
            let worker = JobWorker(
                queue: queue, handlers: [handler("bulk", sleep: .milliseconds(40)), handler("quick", sleep: .milliseconds(5))],
                knownTypes: [], configuration: configuration, logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("all 40 done", timeout: .seconds(15)) { finished.withLock { $0.count } == 40 }
            }
            #expect(probe.maxima["bulk"] == 3)
            #expect((probe.maxima["quick"] ?? 0) >= 2)
            // Every quick job finished while bulk jobs were still waiting.
            let order = finished.withLock { $0 }
            let lastQuick = try #require(order.lastIndex(of: "quick"))
            #expect(lastQuick < 25, "quick jobs waited behind the bulk import: \(order)")
        }
    }

    @Test func invalidJobsAreDeadLetteredWithRawBytesAndTheWorkerGoesOn() async throws {
        try await withQueue("invalid") { queue, redis in
            let prefix = queue.configuration.prefix
            let unparsable: [UInt8] = Array("not json \u{1} ".utf8) + [0xFF, 0xFE] + Array(" end".utf8)
            try await queue.enqueue(raw: unparsable, type: "diag_echo")
            let wrongType = #"{"id":"wrong-1", "type":"connect_calendar","payload":{"password":"hunter2","username":"u"}}"#
            try await queue.enqueue(raw: Array(wrongType.utf8), type: "diag_echo")
            let missingID = #"{"type":"diag_echo","payload":{"authorization_code":"4/zzz"}}"#
            try await queue.enqueue(raw: Array(missingID.utf8), type: "diag_echo")
            let unknown = #"{"id":"unk-1","type":"mystery","payload":{}}"#
            try await queue.enqueue(raw: Array(unknown.utf8), type: "mystery")
            let knownElsewhere = #"{"id":"later-1","type":"future_type","payload":{}}"#
            try await queue.enqueue(raw: Array(knownElsewhere.utf8), type: "future_type")
            let good = try await queue.enqueue(type: "diag_echo", payload: "{}")

            let handler = DiagnosticJobHandler(redis: redis, prefix: prefix)
            let worker = JobWorker(queue: queue, handlers: [handler], knownTypes: ["future_type"], configuration: testWorkerConfiguration(), logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("good job done and 4 dead") {
                    let done = try await doneIDs(redis, prefix: prefix)
                    let dead = try await queue.stats(knownTypes: []).dead
                    return done == [good] && dead == 4
                }
            }
            let records = try await queue.deadList(type: nil, limit: 10)
            #expect(records.allSatisfy { $0.reason == "invalid_job" })
            // Unparsable: kept byte for byte (checked in the stored record), id invalid-<n>.
            let broken = try #require(records.first { $0.id.hasPrefix("invalid-") && $0.raw.hasPrefix("not json") })
            let stored = try #require(try await redis.send(["HGET", "\(prefix):dead", broken.id]).bytes)
            #expect(stored.firstRange(of: [0xFF, 0xFE] + Array(" end".utf8)) != nil)
            #expect(broken.type == "diag_echo")
            // Wrong type field: keyed by its id, secret redacted, every other byte kept.
            let wrong = try #require(records.first { $0.id == "wrong-1" })
            #expect(wrong.raw == #"{"id":"wrong-1", "type":"connect_calendar","payload":{"password":"[redacted]","username":"u"}}"#)
            #expect(wrong.error?.contains("does not match") == true)
            // Missing id: invalid-<n>, redacted.
            let noID = try #require(records.first { $0.raw.contains("\"type\":\"diag_echo\"") })
            #expect(noID.id.hasPrefix("invalid-"))
            #expect(!noID.raw.contains("4/zzz"))
            // Unknown type list: swept.
            let swept = try #require(records.first { $0.id == "unk-1" })
            #expect(swept.raw == unknown)
            #expect(swept.error?.contains("unknown job type") == true)
            // A known type without a local handler is left alone.
            #expect(try await queue.stats(knownTypes: ["future_type"]).ready["future_type"] == 1)
        }
    }

    @Test func failuresFollowTheirDisposition() async throws {
        try await withQueue("dispositions", configure: { $0.retry = .exponentialJitter(base: .milliseconds(1), cap: .milliseconds(5), maxAttempts: 3) }) { queue, redis in
            let prefix = queue.configuration.prefix
            let retried = try await queue.enqueue(type: "diag_echo", payload: #"{"fail_times":2}"#)
            let exhausted = try await queue.enqueue(type: "diag_echo", payload: #"{"fail_times":5}"#)
            let permanent = try await queue.enqueue(type: "diag_echo", payload: #"{"fail_times":1,"fail_kind":"permanent"}"#)
            let deferred = try await queue.enqueue(type: "diag_echo", payload: #"{"fail_times":3,"fail_kind":"defer","retry_after_ms":1}"#)
            let handler = DiagnosticJobHandler(redis: redis, prefix: prefix)
            let worker = JobWorker(queue: queue, handlers: [handler], knownTypes: [], configuration: testWorkerConfiguration(), logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("2 done, 2 dead") {
                    let done = try await doneIDs(redis, prefix: prefix)
                    let dead = try await queue.stats(knownTypes: []).dead
                    return Set(done) == [retried, deferred] && dead == 2
                }
            }
            let exhaustedRecord = try #require(try await queue.deadShow(id: exhausted))
            #expect(exhaustedRecord.reason == "attempts_exhausted")
            #expect(exhaustedRecord.attempts == 3)
            #expect(exhaustedRecord.httpStatus == 503)
            let permanentRecord = try #require(try await queue.deadShow(id: permanent))
            #expect(permanentRecord.reason == "permanent_error")
            #expect(permanentRecord.httpStatus == 400)
        }
    }

    @Test func deferralDoesNotBurnAnAttempt() async throws {
        try await withQueue("wdefer", configure: { $0.retry = .exponentialJitter(base: .zero, cap: .zero, maxAttempts: 2) }) { queue, _ in
            let seen = Mutex<[(attempt: Int, deferrals: Int)]>([])
            let handler = ClosureHandler(jobType: "t") { job, context in
                seen.withLock { $0.append((job.attempt, context.deferrals)) }
                if context.deferrals < 3 { throw JobError.deferred(.init("not_yet"), "wait", for: .milliseconds(1)) }
                if job.attempt == 1 { throw JobError.retryable(.init("flaky"), "once") }
                return .completed
            }
            _ = try await queue.enqueue(type: "t", payload: "{}")
            let worker = JobWorker(queue: queue, handlers: [handler], knownTypes: [], configuration: testWorkerConfiguration(), logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("5 runs") { seen.withLock { $0.count } == 5 }
                try await waitUntil("nothing left") {
                    let stats = try await queue.stats(knownTypes: ["t"])
                    return stats.inFlight == 0 && stats.scheduled["t"] == 0
                }
            }
            let runs = seen.withLock { $0 }
            #expect(runs.map(\.attempt) == [1, 1, 1, 1, 2])
            #expect(runs.map(\.deferrals) == [0, 1, 2, 3, 3])
            #expect(try await queue.stats(knownTypes: ["t"]).dead == 0)
        }
    }

    @Test func gracefulShutdownHandsBackUnfinishedJobsWithoutBurningAttempts() async throws {
        try await withQueue("shutdown") { queue, redis in
            let prefix = queue.configuration.prefix
            let quick = try await queue.enqueue(type: "diag_echo", payload: #"{"sleep_ms":100}"#)
            let slow1 = try await queue.enqueue(type: "diag_echo", payload: #"{"sleep_ms":30000}"#)
            let slow2 = try await queue.enqueue(type: "diag_echo", payload: #"{"sleep_ms":30000}"#)
            var configuration = testWorkerConfiguration(concurrency: 4)
            configuration.shutdownGrace = .milliseconds(400)
            let worker = JobWorker(queue: queue, handlers: [DiagnosticJobHandler(redis: redis, prefix: prefix)], knownTypes: [], configuration: configuration, logger: testLogger)
            let shutdownTook = try await withWorker(worker) {
                try await waitUntil("3 in flight") { try await queue.stats(knownTypes: []).inFlight == 3 }
            }
            // The slow jobs sleep 30 s: a shutdown that waited for them would take that long. The bound leaves
            // room for a loaded machine (the whole suite runs in parallel on two cores).
            #expect(shutdownTook < .seconds(6), "shutdown took \(shutdownTook)")
            #expect(try await doneIDs(redis, prefix: prefix) == [quick])
            let stats = try await queue.stats(knownTypes: ["diag_echo"])
            #expect(stats.inFlight == 0)
            #expect(stats.scheduled["diag_echo"] == 2)
            #expect(stats.dead == 0)
            // Handed back due now, with no attempt burnt.
            let (_, tasks) = try await queue.claim(workerID: "next", slots: [("diag_echo", 5)], total: 5)
            #expect(tasks.count == 2)
            #expect(tasks.allSatisfy { $0.attempts == 0 })
            let ids = tasks.compactMap { task -> String? in
                if case .valid(let id, _, _, _) = JobEnvelope.check(task.raw, listType: "diag_echo") { return id }
                return nil
            }
            #expect(Set(ids) == [slow1, slow2])
        }
    }

    @Test func crashedWorkersJobsComeBackAfterTheLease() async throws {
        try await withQueue("crash", configure: { $0.leaseDuration = .milliseconds(300) }) { queue, redis in
            let prefix = queue.configuration.prefix
            let id = try await queue.enqueue(type: "diag_echo", payload: "{}")
            // A worker that claimed and vanished.
            let (_, tasks) = try await queue.claim(workerID: "ghost", slots: [("diag_echo", 1)], total: 1)
            #expect(tasks.count == 1)
            let worker = JobWorker(queue: queue, handlers: [DiagnosticJobHandler(redis: redis, prefix: prefix)], knownTypes: [], configuration: testWorkerConfiguration(), logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("the job ran once") { try await doneIDs(redis, prefix: prefix) == [id] }
            }
        }
    }
}
