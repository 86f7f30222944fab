import CalsyncHTTP
import CalsyncSync
import Foundation

// Teams meetings (providers.md "Video links"): `isOnlineMeeting` with `onlineMeetingProvider: teamsForBusiness`
// where the calendar's `allowedOnlineMeetingProviders` lists it (personal accounts offer none or Skype); the join
// URL is `onlineMeeting.joinUrl`. A PATCH without those fields keeps the meeting, so moves never touch it.

/// The fields of an event that its Teams meeting needs.
struct GraphMeetingEvent: Decodable {
    struct OnlineMeeting: Decodable { var joinUrl: String? }
    var etag: String?
    var onlineMeeting: OnlineMeeting?

    enum CodingKeys: String, CodingKey {
        case etag = "@odata.etag"
        case onlineMeeting
    }
}

/// A calendar's online meeting providers.
struct GraphMeetingProviders: Decodable {
    var allowedOnlineMeetingProviders: [String]?
}

/// The body of the PATCH that asks for a Teams meeting.
struct GraphMeetingRequest: Encodable {
    var isOnlineMeeting = true
    var onlineMeetingProvider = "teamsForBusiness"
}

extension MicrosoftCalendarProvider {
    /// The Teams join URL of the event: the one it has, else a meeting made now where the calendar allows Teams.
    package func ensureVideoLink(
        _ event: RenderedEvent, key: ExportKey, written: WrittenEvent, calendarID: String, credentials: ProviderCredentials
    ) async throws -> VideoLinkResult? {
        let url = eventURL(written.id)
        let current = try await call(.GET, URLEncoding.url(url, query: [("$select", "onlineMeeting")]), credentials)
            .decode(GraphMeetingEvent.self, what: "event")
        if let link = current.onlineMeeting?.joinUrl { return VideoLinkResult(outcome: .link(link), etag: nil) }
        let calendar = try await call(
            .GET, URLEncoding.url(calendarURL(calendarID), query: [("$select", "allowedOnlineMeetingProviders")]), credentials
        ).decode(GraphMeetingProviders.self, what: "calendar")
        guard calendar.allowedOnlineMeetingProviders?.contains("teamsForBusiness") == true else {
            return VideoLinkResult(outcome: .unavailable("teams_not_allowed"), etag: nil)
        }
        let result = try await send(.PATCH, url, credentials, body: try JSONBody.encode(GraphMeetingRequest()))
        guard result.isSuccess else { throw classify(result) }
        let updated = try result.decode(GraphMeetingEvent.self, what: "event")
        guard let link = updated.onlineMeeting?.joinUrl else {
            return VideoLinkResult(outcome: .unavailable("teams_not_allowed"), etag: updated.etag)
        }
        return VideoLinkResult(outcome: .link(link), etag: updated.etag)
    }
}
