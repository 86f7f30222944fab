import CalsyncJobs
import Foundation

/// `renew_push`: opens, renews or recreates the push channels of one connection (scheduler before expiry
/// and after connect; `calsync webhooks` on a Graph lifecycle notification).
package struct RenewPushPayload: JobPayload, Encodable {
    package static let jobType = "renew_push"
    package let memberID: String
    package let provider: ProviderKind
    /// Open new channels even when the stored ones look healthy (Graph `subscriptionRemoved`).
    package let recreate: Bool
    /// Renew now even when the channels are far from expiry (Graph `reauthorizationRequired`).
    package let force: Bool

    enum CodingKeys: String, CodingKey {
        case memberID = "member_id", provider, recreate, force
    }

    /// A job a producer enqueues.
    package init(memberID: String, provider: ProviderKind, recreate: Bool = false, force: Bool = false) {
        self.memberID = memberID
        self.provider = provider
        self.recreate = recreate
        self.force = force
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        memberID = try c.decode(String.self, forKey: .memberID)
        provider = try c.decode(ProviderKind.self, forKey: .provider)
        recreate = try c.decodeIfPresent(Bool.self, forKey: .recreate) ?? false
        force = try c.decodeIfPresent(Bool.self, forKey: .force) ?? false
    }

    /// Writes `recreate` and `force` only when true.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(memberID, forKey: .memberID)
        try c.encode(provider, forKey: .provider)
        if recreate { try c.encode(true, forKey: .recreate) }
        if force { try c.encode(true, forKey: .force) }
    }

    package func validate() throws(JobPayloadError) {
        try validateID(memberID, "member_id")
        guard provider != .caldav else {
            throw JobPayloadError("payload.provider must be google or microsoft: caldav has no push channels")
        }
    }
}
