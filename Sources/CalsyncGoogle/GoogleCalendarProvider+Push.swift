import CalsyncHTTP
import CalsyncJobs
import CalsyncSync
import Foundation

/// Google watch channels: `events.watch` per calendar, `channels.stop`; no renewal call exists.
extension GoogleCalendarProvider: PushChannelProvider {
    /// Google grants events channels up to about a week; calsync asks for less.
    package var maximumPushLifetime: Duration { .seconds(7 * 86_400) }

    package func openPushChannel(
        channelID: String, calendarID: String?, address: String, lifecycleAddress: String, secret: String, expiresAt: Date,
        credentials: ProviderCredentials
    ) async throws -> OpenedPushChannel {
        guard let calendarID else {
            throw ProviderError.permanent(.badRequest, "A Google watch channel needs a calendar id; this is a calsync bug.")
        }
        let id = channelID
        let ttl = max(1, Int(expiresAt.timeIntervalSinceNow.rounded()))
        let body = try JSONBody.encode(
            GoogleWatchRequest(
                id: id, type: "web_hook", address: address, token: secret,
                expiration: String(Int64(expiresAt.timeIntervalSince1970 * 1000)), params: ["ttl": String(ttl)]))
        let result = try await call(.POST, "\(eventsURL(calendarID))/watch", credentials, body: body)
        let answer = try result.decode(GoogleWatchAnswer.self, what: "watch channel")
        let expiry = answer.expiration.flatMap(Int64.init).map { Date(timeIntervalSince1970: Double($0) / 1000) } ?? expiresAt
        return OpenedPushChannel(channelID: answer.id ?? id, resourceID: answer.resourceId, expiresAt: expiry)
    }

    /// Google has no renewal: the caller opens a new channel and stops the old one.
    package func renewPushChannel(_ channel: PushChannelRecord, expiresAt: Date, credentials: ProviderCredentials) async throws -> Date? {
        nil
    }

    package func stopPushChannel(_ channel: PushChannelRecord, credentials: ProviderCredentials) async throws {
        let body = try JSONBody.encode(["id": channel.channelID, "resourceId": channel.resourceID ?? ""])
        let result = try await send(.POST, "\(base)/channels/stop", credentials, body: body)
        guard result.isSuccess || result.status == 404 else { throw classify(result) }
    }
}

/// The body of `events.watch`.
struct GoogleWatchRequest: Encodable {
    let id: String
    let type: String
    let address: String
    let token: String
    let expiration: String
    let params: [String: String]
}

/// The answer of `events.watch` (the expiration is milliseconds since 1970, as a string).
struct GoogleWatchAnswer: Decodable {
    let id: String?
    let resourceId: String?
    let expiration: String?
}
