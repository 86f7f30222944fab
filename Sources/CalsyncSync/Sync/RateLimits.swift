import CalsyncJobs
import Foundation

/// Where a provider request counts: the provider's app-wide quota and one connection's (user or mailbox) quota.
package struct RateScope: Sendable, Hashable {
    /// `google` or `microsoft`.
    package var provider: String
    /// The connection (its user's or mailbox's quota, and its concurrency cap).
    package var connectionID: String

    /// Creates a scope.
    package init(provider: String, connectionID: String) {
        self.provider = provider
        self.connectionID = connectionID
    }
}

/// A provider's documented request quotas, owned by its client's configuration (0 = no limit).
package struct ProviderQuota: Sendable, Hashable {
    /// Requests per minute for the whole app, shared by every worker.
    package var appRequestsPerMinute: Int
    /// Requests per minute per connection (a Google user, a Microsoft mailbox).
    package var connectionRequestsPerMinute: Int
    /// Concurrent requests per connection.
    package var connectionConcurrency: Int

    /// Creates a quota; 0 means no limit.
    package init(appRequestsPerMinute: Int = 0, connectionRequestsPerMinute: Int = 0, connectionConcurrency: Int = 0) {
        self.appRequestsPerMinute = appRequestsPerMinute
        self.connectionRequestsPerMinute = connectionRequestsPerMinute
        self.connectionConcurrency = connectionConcurrency
    }
}

/// A request may not be sent yet: the job is deferred until `retryAfter` has passed.
package struct RateLimited: Error, Sendable, CustomStringConvertible {
    /// How long to wait at least.
    package var retryAfter: Duration
    /// Which limit said no: `provider`, `connection` or `concurrency`.
    package var limit: String

    /// Creates the error.
    package init(retryAfter: Duration, limit: String) {
        self.retryAfter = retryAfter
        self.limit = limit
    }

    /// Words for logs.
    package var description: String { "rate limited (\(limit)) for \(retryAfter)" }
}

/// What `RateLimiter.acquire` decided.
package enum RateDecision: Sendable, Equatable {
    /// Send now; release the permit after the answer.
    case send(permit: String)
    /// A slot is reserved `after` from now: wait that long, then send; release the permit after the answer.
    case sendAfter(Duration, permit: String)
    /// Not now, nothing reserved: try again after the duration.
    case denied(Duration, limit: String)
}

/// Rate limits shared by every worker process (Redis in production): app-wide and per-connection
/// request rates, and a cap on a connection's concurrent requests.
package protocol RateLimiter: Sendable {
    /// Takes one request of `scope`, reserving a slot when it comes within `reserveUpTo`.
    func acquire(_ scope: RateScope, reserveUpTo: Duration) async throws -> RateDecision
    /// Frees the concurrency slot of a permit.
    func release(_ scope: RateScope, permit: String) async
    /// Pushes a bucket forward after a provider's rate-limit answer: the connection's, or the provider's app-wide one.
    func penalize(_ scope: RateScope, appWide: Bool, for duration: Duration) async
    /// How long a provider's rate-limit answer still forbids requests of `scope`; nil when none does.
    func penaltyRemaining(_ scope: RateScope) async -> Duration?
}

/// No limits (tests of other rules, and providers without quotas).
package struct UnlimitedRateLimiter: RateLimiter {
    /// Creates the limiter.
    package init() {}
    package func acquire(_ scope: RateScope, reserveUpTo: Duration) async throws -> RateDecision { .send(permit: "") }
    package func release(_ scope: RateScope, permit: String) async {}
    package func penalize(_ scope: RateScope, appWide: Bool, for duration: Duration) async {}
    package func penaltyRemaining(_ scope: RateScope) async -> Duration? { nil }
}

/// The gate the HTTP transport passes each provider request through. The sync rules bind it to a
/// connection (a task-local) around their provider calls; requests outside such a scope are not limited.
package struct ProviderRequestGate: Sendable {
    /// The gate of the current task, if any.
    @TaskLocal package static var current: ProviderRequestGate?

    let limiter: any RateLimiter
    let scope: RateScope
    let reserveUpTo: Duration

    /// Creates a gate for one connection.
    package init(limiter: any RateLimiter, scope: RateScope, reserveUpTo: Duration) {
        self.limiter = limiter
        self.scope = scope
        self.reserveUpTo = reserveUpTo
    }

    /// Waits for (or reserves) the request's slot; throws `RateLimited` when the wait is too long to hold a worker for.
    package func beforeRequest() async throws -> String {
        // A job that lost its lease, ran past its deadline or is being cancelled sends nothing more.
        try JobRun.current?.checkHeld()
        for _ in 0..<20 {
            switch try await limiter.acquire(scope, reserveUpTo: reserveUpTo) {
            case .send(let permit):
                return permit
            case .sendAfter(let wait, let permit):
                try await Task.sleep(for: wait)
                // A provider may have said "not before …" while this request waited for its slot.
                if let penalty = await limiter.penaltyRemaining(scope) {
                    await limiter.release(scope, permit: permit)
                    throw RateLimited(retryAfter: penalty, limit: "retry_after")
                }
                return permit
            case .denied(let wait, let limit):
                // Short waits (a busy concurrency slot) are waited out here; long ones defer the job.
                guard wait <= reserveUpTo else { throw RateLimited(retryAfter: wait, limit: limit) }
                try await Task.sleep(for: wait)
            }
        }
        throw RateLimited(retryAfter: reserveUpTo, limit: "concurrency")
    }

    /// The fenced provider write the current task is making, if any (its window and whether a request went out).
    @TaskLocal static var write: FencedWriteWindow?

    /// Throws when the current job may no longer act (lease or lock lost, deadline passed, cancelled), or
    /// when the current fenced write's window has closed: checked just before every provider request goes
    /// out. Past this point the request counts as sent (its outcome may be unknown).
    package static func checkJobHeld() throws {
        try JobRun.current?.checkHeld()
        if let write {
            guard ContinuousClock.now < write.deadline else {
                throw ProviderError.retryable(
                    .timeout, "the provider write did not finish within its window; it will be verified and retried")
            }
            write.noteSent()
        }
    }

    /// Notes the answer to a request that went out (for the current fenced write, if any).
    package static func noteAnswered(status: Int) {
        write?.noteAnswered(status: status)
    }

    /// The timeout for the next request: `configured`, shortened so that it ends before the job's deadline
    /// and before the current fenced write's window closes.
    package static func requestTimeout(_ configured: Duration) -> Duration {
        var timeout = configured
        if let run = JobRun.current { timeout = min(timeout, run.remaining) }
        if let write { timeout = min(timeout, max(.zero, write.deadline - ContinuousClock.now)) }
        return timeout
    }

    /// Holds every request of this connection (all workers) for `wait`: the provider answered with `Retry-After`.
    package func penalize(for wait: Duration) async {
        await limiter.penalize(scope, appWide: false, for: wait)
    }

    /// Frees the request's concurrency slot.
    package func afterRequest(permit: String) async {
        await limiter.release(scope, permit: permit)
    }
}
