import CalsyncHTTP
import CalsyncJobs
import CalsyncSync
import Foundation

/// Graph subscriptions on the member's events: create, PATCH `expirationDateTime`, delete.
extension MicrosoftCalendarProvider: PushChannelProvider {
    /// Graph's limit for Outlook event subscriptions: 10 080 minutes (7 days); calsync asks for less.
    package var maximumPushLifetime: Duration { .seconds(4_230 * 60) }

    package func openPushChannel(
        channelID: String, calendarID: String?, address: String, lifecycleAddress: String, secret: String, expiresAt: Date,
        credentials: ProviderCredentials
    ) async throws -> OpenedPushChannel {
        let body = try JSONBody.encode(
            GraphSubscriptionRequest(
                changeType: "created,updated,deleted", notificationUrl: address, lifecycleNotificationUrl: lifecycleAddress,
                resource: "me/events", expirationDateTime: RFC3339.format(expiresAt), clientState: secret))
        let result = try await call(.POST, "\(base)/subscriptions", credentials, body: body)
        let answer = try result.decode(GraphSubscriptionAnswer.self, what: "subscription")
        return OpenedPushChannel(
            channelID: answer.id, resourceID: nil,
            expiresAt: answer.expirationDateTime.flatMap { RFC3339.parse($0) } ?? expiresAt)
    }

    package func renewPushChannel(_ channel: PushChannelRecord, expiresAt: Date, credentials: ProviderCredentials) async throws -> Date? {
        let body = try JSONBody.encode(["expirationDateTime": RFC3339.format(expiresAt)])
        let result = try await call(.PATCH, "\(base)/subscriptions/\(URLEncoding.component(channel.channelID))", credentials, body: body)
        let answer = try? result.decode(GraphSubscriptionAnswer.self, what: "subscription")
        return answer?.expirationDateTime.flatMap { RFC3339.parse($0) } ?? expiresAt
    }

    package func stopPushChannel(_ channel: PushChannelRecord, credentials: ProviderCredentials) async throws {
        let result = try await send(.DELETE, "\(base)/subscriptions/\(URLEncoding.component(channel.channelID))", credentials)
        guard result.isSuccess || result.status == 404 else { throw classify(result) }
    }
}

/// The body of `POST /subscriptions`.
struct GraphSubscriptionRequest: Encodable {
    let changeType: String
    let notificationUrl: String
    let lifecycleNotificationUrl: String
    let resource: String
    let expirationDateTime: String
    let clientState: String
}

/// A subscription as Graph answers it.
struct GraphSubscriptionAnswer: Decodable {
    let id: String
    let expirationDateTime: String?
}
