import CalsyncSandbox
import Foundation
import PostgresNIO
import Testing

/// Video links (contract §9), end to end: the real `calsync worker` against the sandbox's Meet and Teams emulation.
@Suite("Video links end to end")
struct VideoLinkEndToEndTests {
    static let providers: [SandboxProvider] = [.google, .microsoft]

    static func video(_ provider: SandboxProvider) -> String {
        provider == .google ? #","video":"google_meet""# : #","video":"teams""#
    }

    @Test("the link is made once, kept across a move, and goes with the cancelled event", arguments: providers)
    func linkMadeOnceAndKept(provider: SandboxProvider) async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try world.startWorker()
            let account = try await world.connect("m-1", provider: provider)
            try await world.export(
                "m-1", "a-1", revision: 1, start: "\(TestDay.d(4))T10:00:00Z", end: "\(TestDay.d(4))T11:00:00Z", extra: Self.video(provider))
            try await world.idle()
            let url = try #require(try await world.videoURL("m-1", "a-1"), "\(world.allLogs)")
            #expect(url.hasPrefix(provider == .google ? "https://meet.google.com/" : "https://teams.microsoft.com/"))
            #expect(world.providerEvents(account).first?.json.contains(url.replacingOccurrences(of: "/", with: "\\/")) == true
                || world.providerEvents(account).first?.json.contains(url) == true)

            try await world.export(
                "m-1", "a-1", revision: 2, start: "\(TestDay.d(4))T14:00:00Z", end: "\(TestDay.d(4))T15:00:00Z", extra: Self.video(provider))
            try await world.idle()
            #expect(try await world.videoURL("m-1", "a-1") == url)
            let events = world.providerEvents(account)
            #expect(events.count == 1 && events.first?.event.start == instant("\(TestDay.d(4))T14:00:00Z"))
            var links = try await world.lifecycleEvents().filter { $0["type"] == "appointment.video_link" }
            #expect(links.count == 1)
            #expect(links.first?["url"] == url && links.first?["appointment_id"] == "a-1" && links.first?["member_id"] == "m-1")
            // Reading the calendar back (the meeting's own changes included) is no member's change.
            try await world.importNow("m-1")
            try await world.importNow("m-1", full: true)
            #expect(try await world.externalChanges("m-1").isEmpty)

            try await world.export(
                "m-1", "a-1", revision: 3, status: "cancelled", start: "\(TestDay.d(4))T14:00:00Z", end: "\(TestDay.d(4))T15:00:00Z",
                extra: Self.video(provider))
            try await world.idle()
            #expect(world.providerEvents(account).isEmpty)
            #expect(try await world.videoURL("m-1", "a-1") == nil)
            links = try await world.lifecycleEvents().filter { $0["type"] == "appointment.video_link" }
            #expect(links.count == 1)
        }
    }

    @Test("an account that cannot have a meeting gets the event without one, and the reason", arguments: providers)
    func noLinkWhereUnavailable(provider: SandboxProvider) async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try world.startWorker()
            let account = try await world.connect("m-1", provider: provider)
            world.sandbox.setVideoCapabilities(provider, email: account.email, meetEnabled: false, onlineMeetingProviders: [])
            try await world.export(
                "m-1", "a-1", revision: 1, start: "\(TestDay.d(4))T10:00:00Z", end: "\(TestDay.d(4))T11:00:00Z", extra: Self.video(provider))
            try await world.idle()
            #expect(world.providerEvents(account).count == 1, "\(world.allLogs)")
            #expect(try await world.videoURL("m-1", "a-1") == nil)
            let published = try await world.lifecycleEvents()
            #expect(!published.contains { $0["type"] == "appointment.video_link" })
            let unavailable = published.filter { $0["type"] == "appointment.video_link_unavailable" }
            #expect(unavailable.count == 1, "\(published)")
            #expect(unavailable.first?["reason"] == (provider == .google ? "meet_unavailable" : "teams_not_allowed"))
            #expect(unavailable.first?["appointment_id"] == "a-1")
        }
    }
}

extension SyncWorld {
    /// `appointment_exports.video_url` of one appointment.
    func videoURL(_ member: String, _ appointment: String) async throws -> String? {
        let rows = try await db.query(
            "SELECT video_url FROM appointment_exports WHERE member_id = \(member) AND appointment_id = \(appointment)",
            logger: e2eLogger)
        for try await url in rows.decode(String?.self) { return url }
        return nil
    }
}
