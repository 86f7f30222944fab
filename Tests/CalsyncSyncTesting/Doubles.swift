import CalsyncJobs
import CalsyncSync
import Foundation
import Synchronization

/// A one-shot signal a test can wait for.
package final class Signal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// A signal that has not fired.
    package init() {}

    /// Fires the signal, resuming every waiter (now and later).
    package func fire() {
        let waiters = state.withLock { state in
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Whether the signal fired.
    package var fired: Bool { state.withLock { $0.fired } }

    /// Waits until the signal fired.
    package func wait() async {
        await withCheckedContinuation { continuation in
            let fired = state.withLock { state in
                if !state.fired { state.waiters.append(continuation) }
                return state.fired
            }
            if fired { continuation.resume() }
        }
    }
}

/// Locks in memory (one process); records every acquisition.
package final class InMemorySyncLocks: SyncLocks {
    private let state = Mutex<(held: [String: String], acquired: [String], refused: [String])>(([:], [], []))

    /// No lock held.
    package init() {}

    package func acquire(_ key: String, ttl: Duration) async throws -> SyncLockToken? {
        let token = SyncLockToken(key: key, token: UUID().uuidString)
        return state.withLock { state in
            guard state.held[key] == nil else {
                state.refused.append(key)
                return nil
            }
            state.held[key] = token.token
            state.acquired.append(key)
            return token
        }
    }

    package func release(_ token: SyncLockToken) async throws {
        state.withLock { state in
            if state.held[token.key] == token.token { state.held[token.key] = nil }
        }
    }

    /// The keys held now.
    package var held: Set<String> { state.withLock { Set($0.held.keys) } }
    /// Every key acquired so far, in order.
    package var acquired: [String] { state.withLock { $0.acquired } }
    /// Every acquisition refused because the key was held.
    package var refused: [String] { state.withLock { $0.refused } }
}

/// Records the follow-up jobs it is given.
package final class RecordingEnqueuer: SyncJobEnqueuer {
    /// One enqueued job.
    package struct Enqueued: Sendable, Hashable {
        package var type: String
        package var id: String
        package var payload: [UInt8]
    }

    private let jobs = Mutex<[Enqueued]>([])

    /// Nothing enqueued.
    package init() {}

    package func enqueue(type: String, id: String, payload: [UInt8]) async throws {
        jobs.withLock { $0.append(Enqueued(type: type, id: id, payload: payload)) }
    }

    /// The jobs so far, optionally of one type.
    package func enqueued(_ type: String? = nil) -> [Enqueued] {
        jobs.withLock { jobs in jobs.filter { type == nil || $0.type == type } }
    }

    /// Forgets the jobs so far (they were run, or looked at).
    package func take() -> [Enqueued] {
        jobs.withLock { jobs in
            defer { jobs = [] }
            return jobs
        }
    }
}

/// Records the lifecycle events it is given.
package final class RecordingPublisher: SyncEventPublisher {
    private let events = Mutex<[SyncLifecycleEvent]>([])
    /// How many of the next publishes fail (as if Redis were down).
    package let failures = Mutex(0)

    /// Nothing published.
    package init() {}

    package func publish(_ event: SyncLifecycleEvent) async throws {
        let fail = failures.withLock { count in
            defer { count = max(0, count - 1) }
            return count > 0
        }
        if fail { throw CancellationError() }
        events.withLock { $0.append(event) }
    }

    /// The events so far.
    package var published: [SyncLifecycleEvent] { events.withLock { $0 } }

    /// The types of the events so far, in order.
    package var types: [String] { events.withLock { $0.map(\.type) } }
}

/// A rate limiter whose decisions are scripted (`.send` when none is left); records what it was asked.
package final class ScriptedRateLimiter: RateLimiter {
    /// What the limiter was asked and told.
    package struct State: Sendable {
        /// The next decisions, one per `acquire`.
        package var decisions: [RateDecision] = []
        package var acquires: [RateScope] = []
        package var releases = 0
        /// Penalties: scope, app-wide, duration.
        package var penalties: [(RateScope, Bool, Duration)] = []
        /// What `penaltyRemaining` answers.
        package var penalty: Duration?
    }

    package let state = Mutex(State())

    /// A limiter that sends every request until told otherwise.
    package init(_ decisions: [RateDecision] = []) {
        state.withLock { $0.decisions = decisions }
    }

    package func acquire(_ scope: RateScope, reserveUpTo: Duration) async throws -> RateDecision {
        state.withLock { state in
            state.acquires.append(scope)
            return state.decisions.isEmpty ? .send(permit: "p-\(state.acquires.count)") : state.decisions.removeFirst()
        }
    }

    package func release(_ scope: RateScope, permit: String) async {
        state.withLock { $0.releases += 1 }
    }

    package func penalize(_ scope: RateScope, appWide: Bool, for duration: Duration) async {
        state.withLock { $0.penalties.append((scope, appWide, duration)) }
    }

    package func penaltyRemaining(_ scope: RateScope) async -> Duration? {
        state.withLock { $0.penalty }
    }
}
