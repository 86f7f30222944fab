import CalsyncHTTP
import CalsyncSync
import Foundation

// Google Meet links (providers.md "Video links"): `conferenceData.createRequest` with `conferenceDataVersion=1`
// (without it Google ignores the field), a `requestId` derived from (member, appointment), and re-reads while the
// request is `pending`. A PATCH that leaves `conferenceData` out keeps the meeting, so moves never touch it.

/// The fields of an event that its Meet link needs.
struct GoogleConferenceEvent: Decodable {
    struct ConferenceData: Decodable {
        struct CreateRequest: Decodable {
            struct Status: Decodable { var statusCode: String? }
            var status: Status?
        }
        struct EntryPoint: Decodable {
            var entryPointType: String?
            var uri: String?
        }
        var createRequest: CreateRequest?
        var entryPoints: [EntryPoint]?
    }
    var etag: String?
    var conferenceData: ConferenceData?
}

/// The body of the PATCH that asks for a Meet link.
struct GoogleConferenceRequest: Encodable {
    struct ConferenceData: Encodable {
        struct CreateRequest: Encodable {
            struct SolutionKey: Encodable { var type = "hangoutsMeet" }
            var requestId: String
            var conferenceSolutionKey = SolutionKey()
        }
        var createRequest: CreateRequest
    }
    var conferenceData: ConferenceData
}

extension GoogleCalendarProvider {
    /// How many times a `pending` Meet request is read again, and how long apart.
    static let meetPendingReads = 8
    static let meetPendingPause: Duration = .milliseconds(250)

    /// The Meet link of the event: the one it has, else one asked for now (`pending` read again, bounded).
    package func ensureVideoLink(
        _ event: RenderedEvent, key: ExportKey, written: WrittenEvent, calendarID: String, credentials: ProviderCredentials
    ) async throws -> VideoLinkResult? {
        let url = eventURL(calendarID, written.id)
        var current = try await call(.GET, url, credentials).decode(GoogleConferenceEvent.self, what: "event")
        var etag: String?
        if current.conferenceData == nil {
            let body = try JSONBody.encode(
                GoogleConferenceRequest(conferenceData: .init(createRequest: .init(requestId: "calsync-meet-\(key.digest.prefix(40))"))))
            let patchURL = URLEncoding.url(url, query: [("conferenceDataVersion", "1")])
            let result = try await send(.PATCH, patchURL, credentials, body: body, ifMatch: current.etag)
            guard result.isSuccess else { throw classify(result) }
            current = try result.decode(GoogleConferenceEvent.self, what: "event")
            etag = current.etag
        }
        for _ in 0..<Self.meetPendingReads where current.conferenceData?.createRequest?.status?.statusCode == "pending" {
            try await Task.sleep(for: Self.meetPendingPause)
            current = try await call(.GET, url, credentials).decode(GoogleConferenceEvent.self, what: "event")
            etag = current.etag ?? etag
        }
        if let link = current.conferenceData?.entryPoints?.first(where: { $0.entryPointType == "video" })?.uri {
            return VideoLinkResult(outcome: .link(link), etag: etag)
        }
        switch current.conferenceData?.createRequest?.status?.statusCode {
        case "pending": return VideoLinkResult(outcome: .pending, etag: etag)
        default: return VideoLinkResult(outcome: .unavailable("meet_unavailable"), etag: etag)
        }
    }
}
