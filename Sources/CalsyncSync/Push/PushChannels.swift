import CalsyncJobs
import Foundation

/// Whether a connection's changes arrive by push (`calendar_connections.push_status`).
package enum PushStatus: String, Sendable, Hashable, Codable {
    /// Every channel of the connection is open: the scheduler polls on the long safety-net interval.
    case active
    /// Push was tried and failed (provider refusal, repeated failures): the normal polling interval applies.
    case unavailable
    /// Push does not apply (no public URL, CalDAV, disconnected): the normal polling interval applies.
    case off
}

/// One push channel calsync opened: a Google watch channel on one calendar, or a Graph subscription.
package struct PushChannelRecord: Sendable, Hashable {
    /// The provider's channel id (Google channel id, Graph subscription id).
    package var channelID: String
    /// The connection it feeds.
    package var connectionID: String
    /// The member of that connection.
    package var memberID: String
    /// `google` or `microsoft`.
    package var provider: ProviderKind
    /// Google's resource id (nil for Graph).
    package var resourceID: String?
    /// The watched calendar (Google; nil for a Graph subscription on `me/events`).
    package var calendarID: String?
    /// SHA-256 (hex) of the secret the provider echoes (Google channel token, Graph `clientState`).
    package var secretHash: String
    /// When the provider stops delivering.
    package var expiresAt: Date
    /// When the first trusted message (Google's `sync`, any notification) arrived; nil: none yet.
    package var deliveredAt: Date?

    /// Creates a record.
    package init(
        channelID: String, connectionID: String, memberID: String, provider: ProviderKind, resourceID: String?,
        calendarID: String?, secretHash: String, expiresAt: Date, deliveredAt: Date? = nil
    ) {
        self.deliveredAt = deliveredAt
        self.channelID = channelID
        self.connectionID = connectionID
        self.memberID = memberID
        self.provider = provider
        self.resourceID = resourceID
        self.calendarID = calendarID
        self.secretHash = secretHash
        self.expiresAt = expiresAt
    }
}

/// What a provider answered when a channel was opened.
package struct OpenedPushChannel: Sendable, Hashable {
    /// The channel or subscription id.
    package var channelID: String
    /// Google's resource id (nil for Graph).
    package var resourceID: String?
    /// When it expires, as the provider said.
    package var expiresAt: Date

    /// Creates an answer.
    package init(channelID: String, resourceID: String?, expiresAt: Date) {
        self.channelID = channelID
        self.resourceID = resourceID
        self.expiresAt = expiresAt
    }
}

/// The push calls of a provider (beside ``CalendarProvider``): open, renew and stop channels.
package protocol PushChannelProvider: Sendable {
    /// Opens a channel delivering to `address`; `calendarID` is the watched calendar (Google) or nil (Graph:
    /// the member's events, with `lifecycleAddress`). `secret` is echoed with every notification; `channelID` is
    /// the id to give it where the caller chooses it (Google; Graph assigns its own).
    func openPushChannel(
        channelID: String, calendarID: String?, address: String, lifecycleAddress: String, secret: String, expiresAt: Date,
        credentials: ProviderCredentials
    ) async throws -> OpenedPushChannel

    /// Extends a channel in place (Graph: PATCH `expirationDateTime`); nil when the provider cannot (Google:
    /// open a new one, then stop the old one).
    func renewPushChannel(_ channel: PushChannelRecord, expiresAt: Date, credentials: ProviderCredentials) async throws -> Date?

    /// Stops a channel; one that is already gone counts as stopped.
    func stopPushChannel(_ channel: PushChannelRecord, credentials: ProviderCredentials) async throws

    /// The longest lifetime the provider grants a channel.
    var maximumPushLifetime: Duration { get }
}

/// Where the channels and a connection's push state are kept (PostgreSQL in production).
package protocol PushChannelStore: Sendable {
    /// The channel with this provider id, or nil (unknown, stopped, or never opened by calsync).
    func pushChannel(id: String) async throws -> PushChannelRecord?
    /// The known, unexpired channels among `ids`, by id (one round trip for a batch of notifications).
    func pushChannels(ids: [String]) async throws -> [String: PushChannelRecord]
    /// The open channels of a connection.
    func pushChannels(connectionID: String) async throws -> [PushChannelRecord]
    /// Records a channel just opened or about to be (or replaces the record of the same id, after a renewal),
    /// only while its connection is `active`; false: nothing was written (disconnected meanwhile).
    @discardableResult
    func savePushChannel(_ channel: PushChannelRecord) async throws -> Bool
    /// Notes that a trusted message arrived on a channel (only the first one is recorded).
    func markPushDelivered(channelID: String) async throws
    /// Forgets a channel: notifications from it are not trusted any more.
    func deletePushChannel(id: String) async throws
    /// Sets the connection's `push_status`, `push_detail` and `push_expires_at` (not for a disconnected connection).
    func setPushState(connectionID: String, status: PushStatus, detail: String?, expiresAt: Date?) async throws
}

extension PushChannelStore {
    /// One ``pushChannel(id:)`` per id, for stores without a batch read.
    package func pushChannels(ids: [String]) async throws -> [String: PushChannelRecord] {
        var found: [String: PushChannelRecord] = [:]
        for id in Set(ids) { if let channel = try await pushChannel(id: id) { found[id] = channel } }
        return found
    }
}

/// The Redis side of push: coalesced imports and follow-up channel work, shared by the webhooks process
/// (which notifies) and the worker (whose import clears the mark when it starts).
package protocol PushImportGate: Sendable {
    /// A trusted notification for a connection: enqueues one incremental import unless one is already
    /// queued (then nothing); one that arrives while an import runs is enqueued after the debounce.
    func notifyChange(memberID: String, provider: ProviderKind) async throws -> PushNotifyOutcome
    /// An import of that connection starts: later notifications need a new import.
    func importStarted(memberID: String, provider: ProviderKind) async throws
    /// Enqueues channel work (`renew_push` with `recreate` or `force`) for a connection unless it is already queued.
    func requestChannelWork(memberID: String, provider: ProviderKind, recreate: Bool, force: Bool) async throws -> Bool
}

/// What a notification did.
package enum PushNotifyOutcome: String, Sendable, Hashable {
    /// An import was enqueued now.
    case enqueued
    /// An import was enqueued after the debounce (one had started moments ago).
    case delayed
    /// An import was already queued: nothing more.
    case coalesced
}

/// The tunables of push (`CALSYNC_PUBLIC_URL`, `CALSYNC_WEBHOOK_PORT`, `CALSYNC_PUSH_*`), shared by the
/// worker, the scheduler and `calsync webhooks`.
package struct PushConfiguration: Sendable, Equatable {
    /// The https base the providers call (`CALSYNC_PUBLIC_URL`); nil: push is off and polling applies.
    package var publicURL: String?
    /// The port `calsync webhooks` listens on (`CALSYNC_WEBHOOK_PORT`). Default 8081.
    package var webhookPort: Int
    /// The address `calsync webhooks` binds. Default `0.0.0.0`.
    package var webhookHost: String
    /// A notification that arrives while an import runs waits this long (`CALSYNC_PUSH_DEBOUNCE_MS`). Default 1000 ms.
    package var debounce: Duration
    /// The safety-net import interval of a connection with working push (`CALSYNC_PUSH_POLL_INTERVAL_SECONDS`). Default 21 600.
    package var pollIntervalSeconds: Int
    /// The lifetime asked for a new channel (`CALSYNC_PUSH_CHANNEL_TTL_SECONDS`), capped by the provider's. Default 86 400.
    package var channelTTLSeconds: Int
    /// Channels expiring within this are renewed (`CALSYNC_PUSH_RENEW_BEFORE_SECONDS`). Default 3 600.
    package var renewBeforeSeconds: Int
    /// A notification is answered after at most this, whatever is behind it. Default 800 ms.
    package var answerWithin: Duration
    /// The longest notification body accepted. Default 256 KiB.
    package var maxBodyBytes: Int
    /// Notifications waiting for PostgreSQL and Redis in one webhooks process; more are dropped (polling
    /// catches up). Default 20 000.
    package var inboxCapacity: Int
    /// A Google channel whose `sync` message has not arrived this long after it was opened is taken as not
    /// delivering: push becomes `unavailable` and the normal interval applies (`CALSYNC_PUSH_SYNC_TIMEOUT_SECONDS`).
    /// Default 300.
    package var syncTimeoutSeconds: Int

    /// Creates the defaults.
    package init() {
        self.publicURL = nil
        self.webhookPort = 8081
        self.webhookHost = "0.0.0.0"
        self.debounce = .milliseconds(1000)
        self.pollIntervalSeconds = 21_600
        self.channelTTLSeconds = 86_400
        self.renewBeforeSeconds = 3_600
        self.answerWithin = .milliseconds(800)
        self.maxBodyBytes = 256 * 1024
        self.inboxCapacity = 20_000
        self.syncTimeoutSeconds = 300
    }

    /// The notification URL of a provider under the public base, e.g. `https://…/webhooks/google`.
    package func notificationURL(_ provider: ProviderKind) -> String? {
        guard let base = publicURL?.trimmingCharacters(in: CharacterSet(charactersIn: "/")), !base.isEmpty else { return nil }
        return "\(base)/webhooks/\(provider.rawValue)"
    }

    /// Graph's lifecycle URL under the public base.
    package func lifecycleURL(_ provider: ProviderKind) -> String? {
        notificationURL(provider).map { "\($0)/lifecycle" }
    }
}
