import CalsyncSandbox
import CalsyncSync
import Foundation
import Testing

/// Video links through the real clients against the sandbox (providers.md "Video links").
@Suite("Video links (Google Meet and Teams against the sandbox)")
struct VideoLinkProviderTests {
    static let both: [SandboxProvider] = [.google, .microsoft]

    static func export(_ h: ProviderHarness, _ event: RenderedEvent, key: ExportKey, known: WrittenEvent?) async throws -> WrittenEvent {
        let written = try await h.provider.upsertEvent(
            event, key: key, calendarID: h.calendarID, knownEventID: known?.id, knownETag: known?.etag, credentials: h.credentials)
        return try await h.provider.addingVideoLink(to: written, event, key: key, calendarID: h.calendarID, credentials: h.credentials)
    }

    @Test("one meeting per event: asked for once (Meet: pending, read again), kept by a move", arguments: both)
    func oneMeetingKeptAcrossAMove(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind) { h in
            let key = ExportKey(memberID: "m1", appointmentID: "apt-video")
            var event = ProviderTests.rendered(key, start: ProviderTests.hour(30))
            event.video = kind == .google ? .googleMeet : .teams
            let first = try await Self.export(h, event, key: key, known: nil)
            guard case .link(let url)? = first.video?.outcome else {
                Issue.record("no link: \(String(describing: first.video))")
                return
            }
            let askedFor = h.sandbox.requests().filter { $0.method == "PATCH" && ($0.query ?? "").contains("conferenceDataVersion=1") }
            #expect(askedFor.count == (kind == .google ? 1 : 0))
            if kind == .google {
                // The PATCH answered `pending`; the link came from a later read.
                #expect(h.sandbox.requests().filter { $0.method == "GET" && $0.path.hasSuffix("/events/\(first.id)") }.count >= 2)
            }
            h.sandbox.clearRequests()
            var moved = event
            moved.start = ProviderTests.hour(33)
            moved.end = ProviderTests.hour(34)
            let second = try await Self.export(h, moved, key: key, known: first)
            #expect(second.video?.outcome == .link(url))
            #expect(h.sandbox.requests().filter(\.isWrite).count == 1, "the move is one PATCH; the meeting is not asked for again")
            #expect(ProviderTests.liveEvents(h).first?.event.start == moved.start)
        }
    }

    @Test("an account without meetings: the event is written without one, and the reason is given", arguments: both)
    func noMeetingWhereUnavailable(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind) { h in
            h.sandbox.setVideoCapabilities(kind, email: h.email, meetEnabled: false, onlineMeetingProviders: ["skypeForConsumer"])
            let key = ExportKey(memberID: "m1", appointmentID: "apt-novideo")
            var event = ProviderTests.rendered(key, start: ProviderTests.hour(30))
            event.video = kind == .google ? .googleMeet : .teams
            let written = try await Self.export(h, event, key: key, known: nil)
            #expect(written.video?.outcome == .unavailable(kind == .google ? "meet_unavailable" : "teams_not_allowed"))
            #expect(ProviderTests.liveEvents(h).count == 1)
        }
    }
}
