import CalsyncJobs
import CalsyncRedis
import Foundation
import Testing

@testable import CalsyncQueue

/// Locks a handler hands to the engine: released with the acknowledgement, or at once on any other end.
@Suite("Locks released with the job")
struct JobLockTests {
    @Test func aCompletedJobsLocksGoWithItsAcknowledgementAndOnlyWhileTheyHoldTheirToken() async throws {
        try await withQueue("jlock") { queue, redis in
            let prefix = queue.configuration.prefix
            let mine = JobLock(key: "\(prefix):lock:mine", token: "t-1")
            let taken = JobLock(key: "\(prefix):lock:taken", token: "t-2")
            let seenWhileRunning = SendableBox<[String?]>([])
            let handler = ClosureHandler(jobType: "locky") { _, context in
                _ = try await redis.send(["SET", mine.key, mine.token])
                // Someone else took this one meanwhile: our token no longer holds it.
                _ = try await redis.send(["SET", taken.key, "someone-else"])
                context.heldLocks.releaseWhenJobEnds(mine)
                context.heldLocks.releaseWhenJobEnds(taken)
                // Handed over, not released yet: the job has not ended.
                seenWhileRunning.value = [try await redis.send(["GET", mine.key]).string]
                return .completed
            }
            _ = try await queue.enqueue(type: "locky", payload: "{}")
            let worker = JobWorker(queue: queue, handlers: [handler], knownTypes: [], configuration: testWorkerConfiguration(), logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("the job is acknowledged") { try await queue.stats(knownTypes: ["locky"]).inFlight == 0 && seenWhileRunning.value.count == 1 }
            }
            #expect(seenWhileRunning.value == ["t-1"])
            #expect(try await redis.send(["EXISTS", mine.key]).int == 0)
            #expect(try await redis.send(["GET", taken.key]).string == "someone-else")
        }
    }

    @Test func aFailedJobsLocksAreReleasedBeforeItsRetry() async throws {
        try await withQueue("jlockfail") { queue, redis in
            let prefix = queue.configuration.prefix
            let lock = JobLock(key: "\(prefix):lock:a", token: "t-1")
            let attempts = SendableBox(0)
            let handler = ClosureHandler(jobType: "locky") { _, context in
                attempts.value += 1
                _ = try await redis.send(["SET", lock.key, lock.token])
                context.heldLocks.releaseWhenJobEnds(lock)
                throw JobError.retryable(.init("boom"), "fails once", retryAfter: .seconds(60))
            }
            _ = try await queue.enqueue(type: "locky", payload: "{}")
            let worker = JobWorker(queue: queue, handlers: [handler], knownTypes: [], configuration: testWorkerConfiguration(), logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("the job is scheduled for a retry") {
                    try await queue.stats(knownTypes: ["locky"]).scheduled["locky"] == 1
                }
            }
            #expect(attempts.value == 1)
            #expect(try await redis.send(["EXISTS", lock.key]).int == 0)
        }
    }
}

/// A value shared with a handler closure.
final class SendableBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}
