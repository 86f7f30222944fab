import CalsyncSync
import Foundation

/// One notification as received, before it is trusted: what the provider's headers or body claimed.
package enum PushNotification: Sendable, Hashable {
    /// A Google watch-channel message (headers only).
    case google(channelID: String, token: String?, resourceID: String?, state: String)
    /// One item of a Graph notification (`lifecycleEvent` nil for a change notification).
    case graph(subscriptionID: String, clientState: String?, lifecycleEvent: String?)

    /// The channel or subscription it claims to come from.
    package var channelID: String {
        switch self {
        case .google(let channelID, _, _, _): channelID
        case .graph(let subscriptionID, _, _): subscriptionID
        }
    }

    /// The provider it claims to come from.
    package var provider: ProviderKind {
        switch self {
        case .google: .google
        case .graph: .microsoft
        }
    }
}

/// What the check of a notification found.
package enum PushNotificationOutcome: String, Sendable, Hashable {
    /// Trusted: an import was enqueued (now or after the debounce).
    case importEnqueued = "import_enqueued"
    /// Trusted: an import was already queued.
    case coalesced
    /// Trusted: Google's first `sync` message, or a lifecycle event that only needed channel work.
    case acknowledged
    /// Not trusted (unknown or expired channel, wrong secret or resource): nothing changed.
    case refused
}

/// The body of a Graph notification POST: `{"value": [ … ]}`.
struct GraphNotificationBody: Decodable {
    struct Item: Decodable {
        let subscriptionId: String?
        let clientState: String?
        let lifecycleEvent: String?
    }
    let value: [Item]
}
