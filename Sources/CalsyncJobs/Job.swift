import Foundation
import Logging
import Synchronization

/// A claimed job whose envelope is valid.
package struct Job: Sendable {
    /// The producer's id (1–128 characters).
    package let id: String
    /// The job type (equal to the list it came from).
    package let type: String
    /// When the producer enqueued it, when given.
    package let enqueuedAt: Date?
    /// The raw JSON text of the `payload` object.
    package let payload: [UInt8]
    /// The job text as received.
    package let raw: [UInt8]
    /// 1 on the first run; grows with each retryable failure (never with deferrals or hand-backs).
    package let attempt: Int

    /// Creates a job (the worker does; tests of handlers may too).
    package init(id: String, type: String, enqueuedAt: Date?, payload: [UInt8], raw: [UInt8], attempt: Int) {
        self.id = id
        self.type = type
        self.enqueuedAt = enqueuedAt
        self.payload = payload
        self.raw = raw
        self.attempt = attempt
    }
}

/// What a handler gets besides the job.
package struct JobContext: Sendable {
    /// A logger with `calsync.job.id` and `calsync.job.type` metadata.
    package let logger: Logger
    /// The worker running the job (`host:pid:random`).
    package let workerID: String
    /// How many times this job was deferred so far.
    package let deferrals: Int
    /// Locks (in the queue's Redis) that the engine releases when the job ends.
    package let heldLocks: JobHeldLocks

    /// Creates a context.
    package init(logger: Logger, workerID: String, deferrals: Int, heldLocks: JobHeldLocks = JobHeldLocks()) {
        self.logger = logger
        self.workerID = workerID
        self.deferrals = deferrals
        self.heldLocks = heldLocks
    }
}

/// A lock in the queue's Redis: a key that holds `token` while its owner has it.
package struct JobLock: Sendable, Hashable {
    /// The Redis key.
    package let key: String
    /// The value only the holder knows.
    package let token: String

    /// Creates a lock reference.
    package init(key: String, token: String) {
        self.key = key
        self.token = token
    }

    /// 128 random bits as 32 hex digits, from the system's generator (`getrandom`): unlike `UUID()`, which
    /// opened /dev/urandom on every call (twice per export; `make bench`). One call for all 16 bytes (the
    /// generator's `next()` made one system call per 8 bytes) and the digits written in place.
    package static func randomToken() -> String {
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { arc4random_buf($0.baseAddress!, $0.count) }
        return String(unsafeUninitializedCapacity: 32) { buffer in
            func write(_ word: UInt64, at offset: Int) {
                for index in 0..<16 {
                    let nibble = UInt8(truncatingIfNeeded: word >> UInt64(60 - 4 * index)) & 0xF
                    buffer[offset + index] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
                }
            }
            write(words.0, at: 0)
            write(words.1, at: 16)
            return 32
        }
    }
}

/// The locks a running job holds in the queue's Redis. The engine renews them with the job's lease (one
/// script), cancels the job when one is lost, and releases them when the job ends: a successful job's locks
/// go in the same Redis call as its acknowledgement (one round trip less per job); on any other end they
/// are released just before.
package final class JobHeldLocks: Sendable {
    private let locks = Mutex<[JobLock]>([])

    /// An empty set.
    package init() {}

    /// Holds `lock` from now until the job ends (renewed with the lease, released with the job).
    package func hold(_ lock: JobLock) {
        locks.withLock { $0.append(lock) }
    }

    /// Forgets `lock` (its holder released it early).
    package func drop(_ lock: JobLock) {
        locks.withLock { $0.removeAll { $0 == lock } }
    }

    /// Releases `lock` when the job ends, instead of now (the same as `hold`).
    package func releaseWhenJobEnds(_ lock: JobLock) {
        hold(lock)
    }

    /// The locks held now.
    package func current() -> [JobLock] {
        locks.withLock { $0 }
    }

    /// The locks held so far, emptied.
    package func take() -> [JobLock] {
        locks.withLock { locks in
            defer { locks = [] }
            return locks
        }
    }
}

/// One run of a job as the engine sees it, visible to everything the handler calls (a task-local): its
/// deadline, and whether it still holds its lease and locks. Provider calls check it before they go out,
/// so a job that lost its lease (or ran past its deadline) makes no further provider call.
package final class JobRun: Sendable {
    /// The run of the current task, if it is a job's.
    @TaskLocal package static var current: JobRun?

    /// Why a run was stopped from outside.
    package enum StopReason: Sendable, Equatable {
        /// The lease or one of the job's locks was lost: another worker may own the job now.
        case leaseLost
        /// The job ran past `CALSYNC_JOB_TIMEOUT_SECONDS`.
        case deadline
        /// The worker is shutting down.
        case shutdown
    }

    /// When the job must have ended; it is cancelled (and retried) after.
    package let deadline: ContinuousClock.Instant
    private let stop = Mutex<StopReason?>(nil)
    /// Until when the lease is surely held: the start of the last successful renewal (or the claim) plus the lease.
    private let heldUntil: Mutex<ContinuousClock.Instant>

    /// Creates a run (the engine does; handler tests may too).
    package init(deadline: ContinuousClock.Instant, heldUntil: ContinuousClock.Instant) {
        self.deadline = deadline
        self.heldUntil = Mutex(heldUntil)
    }

    /// Why the run was stopped, if it was.
    package var stopReason: StopReason? { stop.withLock { $0 } }

    /// Marks the run stopped (the first reason wins); returns whether this call stopped it.
    @discardableResult
    package func markStopped(_ reason: StopReason) -> Bool {
        stop.withLock { current in
            guard current == nil else { return false }
            current = reason
            return true
        }
    }

    /// Records a successful renewal that started at `start`.
    package func renewed(startedAt start: ContinuousClock.Instant, lease: Duration) {
        heldUntil.withLock { $0 = max($0, start + lease) }
    }

    /// Throws unless the run may still act: not stopped, not cancelled, lease surely held, deadline not passed.
    package func checkHeld() throws {
        if let reason = stopReason { throw JobRunStopped(reason: reason) }
        try Task.checkCancellation()
        let now = ContinuousClock.now
        for (passed, reason) in [(now >= heldUntil.withLock({ $0 }), StopReason.leaseLost), (now >= deadline, .deadline)] where passed {
            markStopped(reason)
            throw JobRunStopped(reason: stopReason ?? reason)
        }
    }

    /// The time left before the deadline (zero when past it).
    package var remaining: Duration { max(.zero, deadline - ContinuousClock.now) }
}

/// A job's run was stopped from outside (lease or lock lost, deadline, shutdown): it must not act further.
package struct JobRunStopped: Error, Sendable, CustomStringConvertible {
    /// Why.
    package let reason: JobRun.StopReason

    /// Creates the error for `reason`.
    package init(reason: JobRun.StopReason) {
        self.reason = reason
    }

    /// Words for logs and dead records.
    package var description: String {
        switch reason {
        case .leaseLost: "the job lost its lease or lock; another worker may run it now, so it stopped before its next provider call"
        case .deadline: "the job ran past its deadline (CALSYNC_JOB_TIMEOUT_SECONDS) and was cancelled"
        case .shutdown: "the worker is shutting down"
        }
    }
}

/// How a job ended when it did not throw.
package enum JobOutcome: Sendable {
    /// The work was done.
    case completed
    /// Nothing to do (e.g. stale revision, ineligible organization); the reason is a low-cardinality code.
    case skipped(String)
}

/// Runs the jobs of one type.
package protocol JobHandler: Sendable {
    /// The job type this handler runs.
    var jobType: String { get }
    /// Runs a job; throw `JobError` to classify a failure (any other error is retryable).
    func handle(_ job: Job, context: JobContext) async throws -> JobOutcome
}

/// A classified job failure.
package struct JobError: Error, Sendable, CustomStringConvertible {
    /// What the engine does with the job.
    package enum Disposition: Sendable {
        /// Run again after the retry policy's delay (never earlier than `retryAfter`); burns an attempt.
        case retryable(retryAfter: Duration?)
        /// Run again after the given time; burns no attempt.
        case deferred(until: Duration)
        /// Dead-letter at once with the reason.
        case permanent(reason: String)
        /// Dead-letter at once with reason `invalid_job`.
        case invalid
    }

    /// What the engine does with the job.
    package var disposition: Disposition
    /// A stable, low-cardinality code (metric label).
    package var code: Code
    /// What went wrong (no secrets, no customer details): it lands in the dead record.
    package var message: String
    /// The HTTP status of the provider answer behind the failure, when there was one.
    package var httpStatus: Int?

    /// Creates an error.
    package init(disposition: Disposition, code: Code, message: String, httpStatus: Int? = nil) {
        self.disposition = disposition
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
    }

    /// A failure worth retrying later (network, 5xx, 429 with its Retry-After).
    package static func retryable(_ code: Code, _ message: String, retryAfter: Duration? = nil, httpStatus: Int? = nil) -> JobError {
        JobError(disposition: .retryable(retryAfter: retryAfter), code: code, message: message, httpStatus: httpStatus)
    }

    /// Not now: run again after `for` without burning an attempt.
    package static func deferred(_ code: Code, _ message: String, for duration: Duration) -> JobError {
        JobError(disposition: .deferred(until: duration), code: code, message: message)
    }

    /// A failure that retrying cannot fix: dead-letter with `reason` (e.g. `forbidden`).
    package static func permanent(_ code: Code, _ message: String, reason: String = "permanent_error", httpStatus: Int? = nil) -> JobError {
        JobError(disposition: .permanent(reason: reason), code: code, message: message, httpStatus: httpStatus)
    }

    /// The job breaks its schema: dead-letter with reason `invalid_job`.
    package static func invalid(_ message: String) -> JobError {
        JobError(disposition: .invalid, code: .invalidJob, message: message)
    }

    /// `code: message`.
    package var description: String { "\(code): \(message)" }
}
