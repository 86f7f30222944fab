import CalsyncJobs
import CalsyncRedis
import Foundation
import Synchronization
import Testing

@testable import CalsyncQueue

/// What a test handler saw: its runs, and how each ended.
final class RunLog: Sendable {
    private let state = Mutex<(attempts: [Int], calls: Int, endings: [String])>(([], 0, []))

    func started(_ attempt: Int) { state.withLock { $0.attempts.append(attempt) } }
    /// One "provider call": allowed only while the run still holds its lease and locks.
    func call() throws {
        try JobRun.current?.checkHeld()
        state.withLock { $0.calls += 1 }
    }
    func ended(_ how: String) { state.withLock { $0.endings.append(how) } }
    var attempts: [Int] { state.withLock { $0.attempts } }
    var calls: Int { state.withLock { $0.calls } }
    var endings: [String] { state.withLock { $0.endings } }
}

/// A handler that makes a "provider call" every 20 ms until it is stopped, recording why it stopped.
func callingUntilStopped(_ log: RunLog, stopAfterAttempt: Int = Int.max) -> @Sendable (Job, JobContext) async throws -> JobOutcome {
    { job, _ in
        log.started(job.attempt)
        if job.attempt > stopAfterAttempt { return .completed }
        do {
            while true {
                try log.call()
                try await Task.sleep(for: .milliseconds(20))
            }
        } catch {
            log.ended(JobRun.current?.stopReason.map { "\($0)" } ?? "cancelled")
            throw error
        }
    }
}

@Suite("Job runs: leases, locks, deadlines, shutdown")
struct JobRunTests {
    @Test func aJobWhoseLeaseIsLostIsCancelledAndCallsNothingMore() async throws {
        try await withQueue("lostlease", configure: { $0.leaseDuration = .seconds(3) }) { queue, redis in
            let prefix = queue.configuration.prefix
            _ = try await queue.enqueue(type: "t", payload: "{}")
            let log = RunLog()
            let worker = JobWorker(
                queue: queue, handlers: [ClosureHandler(jobType: "t", body: callingUntilStopped(log))], knownTypes: [],
                configuration: testWorkerConfiguration(), logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("the job calls") { log.calls > 0 }
                // Redis forgets the task's fence (a rollback, or another worker took it over after an expiry).
                let tids = (try await redis.send(["ZRANGE", "\(prefix):leases", "0", "-1"]).array ?? []).compactMap { $0.string }
                #expect(tids.count == 1)
                _ = try await redis.send(["HSET", "\(prefix):task:\(tids[0])", "fence", "taken-over"])
                try await waitUntil("the job is stopped") { log.endings == ["leaseLost"] }
                let callsAtStop = log.calls
                // The handler ended: no call can follow (it would have to run again, and the log shows one run).
                #expect(log.attempts == [1])
                #expect(log.calls == callsAtStop)
            }
        }
    }

    @Test func aJobWhoseLockIsTakenOverIsCancelled() async throws {
        try await withQueue("lostlock", configure: { $0.leaseDuration = .seconds(5) }) { queue, redis in
            let prefix = queue.configuration.prefix
            _ = try await queue.enqueue(type: "t", payload: "{}")
            let log = RunLog()
            let lock = JobLock(key: "\(prefix):lock:appointment", token: "mine")
            let handler = ClosureHandler(jobType: "t") { job, context in
                _ = try await redis.send(["SET", lock.key, lock.token, "PX", "60000"])
                context.heldLocks.hold(lock)
                return try await callingUntilStopped(log)(job, context)
            }
            let worker = JobWorker(queue: queue, handlers: [handler], knownTypes: [], configuration: testWorkerConfiguration(), logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("the job calls") { log.calls > 0 }
                // The worker renews the lock with the job's lease (5 s): its time to live is set to that.
                try await waitUntil("the lock to be renewed") {
                    (0...5000).contains(try await redis.send(["PTTL", lock.key]).int ?? -2)
                }
                #expect(log.endings.isEmpty)
                _ = try await redis.send(["SET", lock.key, "another-job"])
                try await waitUntil("the job is stopped") { log.endings == ["leaseLost"] }
            }
            // The other holder's lock was left alone.
            #expect(try await redis.send(["GET", lock.key]).string == "another-job")
        }
    }

    @Test func aJobPastItsDeadlineIsCancelledAndRetried() async throws {
        try await withQueue(
            "deadline",
            configure: {
                $0.leaseDuration = .seconds(3)
                $0.retry = .exponentialJitter(base: .milliseconds(1), cap: .milliseconds(1), maxAttempts: 5)
            }
        ) { queue, _ in
            _ = try await queue.enqueue(type: "t", payload: "{}")
            let log = RunLog()
            var configuration = testWorkerConfiguration()
            configuration.jobTimeout = .milliseconds(500)
            let worker = JobWorker(
                queue: queue, handlers: [ClosureHandler(jobType: "t", body: callingUntilStopped(log, stopAfterAttempt: 1))],
                knownTypes: [], configuration: configuration, logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("the second attempt ran") { log.attempts == [1, 2] }
                try await waitUntil("nothing left") { try await queue.stats(knownTypes: ["t"]).inFlight == 0 }
            }
            #expect(log.endings == ["deadline"])
            #expect(try await queue.stats(knownTypes: ["t"]).dead == 0)
        }
    }

    @Test func shutdownCancelsHandlersBeforeHandingTheirJobsBack() async throws {
        try await withQueue("cancelfirst") { queue, redis in
            let prefix = queue.configuration.prefix
            _ = try await queue.enqueue(type: "t", payload: "{}")
            // Whether the job was still leased to this worker when its handler saw the cancellation.
            let heldAtCancel = Mutex<Bool?>(nil)
            let started = Mutex(false)
            let handler = ClosureHandler(jobType: "t") { _, _ in
                started.withLock { $0 = true }
                do {
                    try await Task.sleep(for: .seconds(30))
                } catch {
                    // Asked from a task of its own: this one is cancelled.
                    let leases = try await Task { try await redis.send(["ZCARD", "\(prefix):leases"]).int ?? -1 }.value
                    heldAtCancel.withLock { $0 = leases == 1 }
                    throw error
                }
                return .completed
            }
            var configuration = testWorkerConfiguration()
            configuration.shutdownGrace = .milliseconds(200)
            let worker = JobWorker(queue: queue, handlers: [handler], knownTypes: [], configuration: configuration, logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("the job runs") { started.withLock { $0 } }
            }
            #expect(heldAtCancel.withLock { $0 } == true)
            let stats = try await queue.stats(knownTypes: ["t"])
            #expect(stats.inFlight == 0)
            #expect(stats.scheduled["t"] == 1)
            let (_, tasks) = try await queue.claim(workerID: "next", slots: [("t", 1)], total: 1)
            #expect(tasks.first?.attempts == 0)
        }
    }

    @Test func oneWorkerOfTheFleetSweepsUnknownTypesIncludingScheduledOnes() async throws {
        try await withQueue("sweep") { queue, redis in
            let prefix = queue.configuration.prefix
            // A retry scheduled by an older version that knew the type `retired`.
            _ = try await queue.enqueue(type: "retired", payload: "{}")
            let (_, claimed) = try await queue.claim(workerID: "old-version", slots: [("retired", 1)], total: 1)
            let task = try #require(claimed.first)
            #expect(try await queue.fail(.retry, tid: task.tid, fence: task.fence) == .scheduled)
            #expect(try await redis.send(["LLEN", "\(prefix):queue:retired"]).int == 0)

            // Only one process per interval scans the keyspace.
            #expect(try await queue.unknownTypes(known: ["t"], owner: "a", every: .seconds(60)) == ["retired"])
            #expect(try await queue.unknownTypes(known: ["t"], owner: "b", every: .seconds(60)) == nil)
            _ = try await redis.send(["DEL", "\(prefix):sweep"])

            let worker = JobWorker(
                queue: queue, handlers: [ClosureHandler(jobType: "t") { _, _ in .completed }], knownTypes: [],
                configuration: testWorkerConfiguration(), logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("the scheduled job of an unknown type is dead") { try await queue.stats(knownTypes: []).dead == 1 }
            }
            let dead = try await queue.deadList(type: nil, limit: 5)
            #expect(dead.first?.reason == "invalid_job")
            #expect(dead.first?.error?.contains("unknown job type retired") == true)
        }
    }
}
