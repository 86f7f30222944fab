import CalsyncJobs
import Foundation
import Logging

/// A short-lived exclusive lock across processes (Redis in production), so that two jobs for one
/// appointment, or two imports of one member, never run at once.
package protocol SyncLocks: Sendable {
    /// Takes the lock for at most `ttl`; nil when someone else holds it.
    func acquire(_ key: String, ttl: Duration) async throws -> SyncLockToken?
    /// Releases the lock if this token still holds it.
    func release(_ token: SyncLockToken) async throws
    /// Whether the job engine can release these locks with a job's end (they live in the queue's Redis).
    var releasedWithJob: Bool { get }
}

extension SyncLocks {
    /// Locks elsewhere than the queue's Redis are released by `release`.
    package var releasedWithJob: Bool { false }
}

/// Proof of holding a lock: its key and a token only this holder knows (the engine's `JobLock`).
package typealias SyncLockToken = JobLock

/// A lifecycle event for the web tier (`XADD <prefix>:events`).
package struct SyncLifecycleEvent: Sendable, Hashable {
    /// `connection.connected`, `connection.reconnect_required`, `connection.disconnected`, `sync.failed`.
    package var type: String
    package var memberID: String
    package var provider: ProviderKind
    package var at: Date
    /// Words a person can act on (never a token or customer detail).
    package var detail: String
    /// Further fields of the event, by name (e.g. `appointment_id`, `starts_at` of `appointment.changed_externally`).
    package var fields: [String: String] = [:]

    /// Creates an event.
    package init(type: String, memberID: String, provider: ProviderKind, at: Date = Date(), detail: String) {
        self.type = type
        self.memberID = memberID
        self.provider = provider
        self.at = at
        self.detail = detail
    }
}

/// Publishes lifecycle events for the web tier.
package protocol SyncEventPublisher: Sendable {
    /// Publishes one event; failures are logged by the caller, never fatal to the job.
    func publish(_ event: SyncLifecycleEvent) async throws
}

/// Enqueues follow-up jobs exactly as a producer would.
package protocol SyncJobEnqueuer: Sendable {
    /// Enqueues a job of `type` with `payload` (a JSON object's text) under `id`.
    func enqueue(type: String, id: String, payload: [UInt8]) async throws
}

/// The provider clients by kind; nil for a provider that is not configured.
package protocol ProviderDirectory: Sendable {
    /// The client of a provider.
    func provider(_ kind: ProviderKind) -> (any CalendarProvider)?
}

/// The tunables of the sync rules.
package struct SyncConfiguration: Sendable {
    /// Refresh an access token that expires within this margin before using it (`CALSYNC_REFRESH_MARGIN_SECONDS`).
    /// Default 600 s (10 minutes); the scheduler refreshes ahead with the same margin.
    package var refreshMargin: Duration
    /// Days before now that the rolling import window starts. Default 1.
    package var importPastDays: Int
    /// Days after now that the rolling import window ends. Default 90.
    package var importFutureDays: Int
    /// How long an appointment or import lock lives when its holder dies. Default 30 s (the worker sets the job lease).
    package var lockTTL: Duration
    /// How long a job waits (deferred, no attempt burnt) when its appointment or member is locked. Default 500 ms.
    package var lockedRetryDelay: Duration
    /// A request whose rate-limit slot comes within this waits for it in place; a later one defers the job. Default 250 ms.
    package var rateLimitReserve: Duration
    /// How long to back off after a provider's rate-limit answer that gave no `Retry-After`. Default 10 s.
    package var rateLimitBackoff: Duration
    /// How long one provider write of an appointment (all its requests) may take: its requests' timeouts are
    /// shortened to end by then. Default 60 s (the app sets twice `CALSYNC_PROVIDER_TIMEOUT_SECONDS`).
    package var providerWriteWindow: Duration
    /// How long after its window a provider may still apply a write whose answer calsync never got
    /// (`CALSYNC_PROVIDER_WRITE_SETTLE_SECONDS`). Default 30 s.
    package var providerWriteSettle: Duration

    /// Creates the defaults.
    package init() {
        self.refreshMargin = .seconds(600)
        self.importPastDays = 1
        self.importFutureDays = 90
        self.lockTTL = .seconds(30)
        self.lockedRetryDelay = .milliseconds(500)
        self.rateLimitReserve = .milliseconds(250)
        self.rateLimitBackoff = .seconds(10)
        self.providerWriteWindow = .seconds(60)
        self.providerWriteSettle = .seconds(30)
    }

    /// The rolling import window around `now`.
    package func rollingWindow(now: Date) -> DateInterval {
        DateInterval(
            start: now.addingTimeInterval(-Double(importPastDays) * 86_400),
            end: now.addingTimeInterval(Double(importFutureDays) * 86_400))
    }
}

/// Everything the handlers share: store, providers, sealing, locks, events, follow-up jobs.
package struct SyncEnvironment: Sendable {
    package var store: any SyncStore
    package var providers: any ProviderDirectory
    package var sealer: CredentialSealer
    package var locks: any SyncLocks
    package var events: any SyncEventPublisher
    package var enqueuer: any SyncJobEnqueuer
    package var limiter: any RateLimiter
    package var configuration: SyncConfiguration
    /// Credentials opened before, by their sealed bytes (shared by copies of this environment).
    let openedCredentials = OpenedCredentialCache()

    /// Creates an environment.
    package init(
        store: any SyncStore, providers: any ProviderDirectory, sealer: CredentialSealer, locks: any SyncLocks,
        events: any SyncEventPublisher, enqueuer: any SyncJobEnqueuer, limiter: any RateLimiter = UnlimitedRateLimiter(),
        configuration: SyncConfiguration = .init()
    ) {
        self.store = store
        self.providers = providers
        self.sealer = sealer
        self.locks = locks
        self.events = events
        self.enqueuer = enqueuer
        self.limiter = limiter
        self.configuration = configuration
    }
}
