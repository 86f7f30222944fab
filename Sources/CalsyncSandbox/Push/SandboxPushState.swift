import Foundation

/// A Google watch channel as the sandbox keeps it.
struct WatchChannelState {
    var id: String
    var token: String?
    var address: String
    var resourceID: String
    var email: String
    var calendarID: String
    var expiration: Double
    /// The calendar's change counter last notified.
    var lastSeq: Int
    var messageNumber = 0
    var syncSent = false
}

/// A Graph subscription as the sandbox keeps it.
struct GraphSubscriptionState {
    var id: String
    var clientState: String?
    var notificationURL: String
    var lifecycleURL: String?
    var email: String
    var changeType: String
    var expiration: Double
    /// The sum of the mailbox's calendar change counters last notified.
    var lastSeq: Int
}

/// A notification waiting for (another) delivery attempt.
struct PendingDelivery {
    var channelID: String
    var provider: SandboxProvider
    var kind: String
    var url: String
    var headers: [(String, String)]
    var body: [UInt8]
    var attempt: Int
    var dueAt: Double
}

/// How the sandbox delivers notifications, and the faults it injects (`POST /_sandbox/push/faults`).
package struct SandboxPushFaults: Sendable, Codable, Equatable {
    /// Seconds every notification waits before its first attempt (slow notifications). Default 0.
    package var delaySeconds: Double = 0
    /// Probability that a notification is never sent (lost notifications). Default 0.
    package var dropProbability: Double = 0
    /// Copies sent of each Graph notification (Graph sends 2-4 per change). Default 2.
    package var graphDuplicates: Int = 2
    /// Attempts per notification before it is given up (retries on a non-2xx answer or no answer). Default 4.
    package var maxAttempts: Int = 4
    /// Seconds before the first retry, doubling each time. Default 0.5.
    package var retryDelaySeconds: Double = 0.5
    /// Seconds a receiver may take to answer before the attempt counts as failed (Graph: 3). Default 3.
    package var answerTimeoutSeconds: Double = 3

    /// The defaults.
    package init() {}
}

/// One delivery attempt, for tests and `GET /_sandbox/push/deliveries`.
package struct SandboxPushDelivery: Sendable, Codable, Equatable {
    /// The channel or subscription id.
    package var channelID: String
    /// `google` or `microsoft`.
    package var provider: SandboxProvider
    /// `sync`, `exists`, `notification`, `validation`, `lifecycle:<event>`, or `lost` (dropped by a fault).
    package var kind: String
    /// The receiver's status; nil when it did not answer.
    package var status: Int?
    /// 1 for the first attempt.
    package var attempt: Int
    /// Seconds the receiver took.
    package var seconds: Double
    /// When it was sent (seconds since 1970).
    package var at: Double
}

/// A channel or subscription as tests see it.
package struct SandboxPushChannel: Sendable, Codable, Equatable {
    package var id: String
    package var provider: SandboxProvider
    package var email: String
    /// The watched calendar (Google) or nil (Graph: the mailbox).
    package var calendarID: String?
    package var address: String
    package var expiration: Double
}

/// Everything push: channels, subscriptions, deliveries waiting, the log and the faults.
struct SandboxPushState {
    var channels: [String: WatchChannelState] = [:]
    var subscriptions: [String: GraphSubscriptionState] = [:]
    var pending: [PendingDelivery] = []
    var log: [SandboxPushDelivery] = []
    var faults = SandboxPushFaults()
}
