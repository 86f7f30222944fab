import CalsyncTestSupport
import Foundation
import PostgresNIO
import Testing

/// Two-way (contract §8) and video links (§9) for CalDAV, end to end: the real `calsync worker` against a real
/// Radicale and Xandikos; the member's own calendar app is the test, writing the exported object with plain HTTP PUT/DELETE.
@Suite("CalDAV two-way end to end (Radicale, Xandikos)")
struct CalDAVTwoWayEndToEndTests {
    typealias DAV = CalDAVEndToEndTests

    /// The servers scripts/with-services.sh starts.
    enum Server: String, Sendable, CaseIterable, CustomStringConvertible {
        case radicale, xandikos
        var description: String { rawValue }
        /// The server's base URL, when it runs.
        var base: String? {
            ProcessInfo.processInfo.environment[self == .radicale ? "CALSYNC_TEST_RADICALE_URL" : "CALSYNC_TEST_XANDIKOS_URL"]
        }
    }

    /// Times relative to today, so they fall inside the rolling import window whatever the date.
    struct Times {
        let day = Calendar(identifier: .gregorian).startOfDay(for: Date().addingTimeInterval(2 * 86_400))
        func at(_ hours: Double, dayOffset: Int = 0) -> Date { day.addingTimeInterval(Double(dayOffset) * 86_400 + hours * 3600) }
        func text(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
    }

    /// A connected account for member `m-1` (on Xandikos, which has no users, a calendar of its own connected by its
    /// URL), with the worker running.
    func connected(_ world: SyncWorld, _ server: Server, _ base: String) async throws -> DAV.Account {
        let account: DAV.Account
        let job: String
        switch server {
        case .radicale:
            account = try DAV.account(base: base)
            job = DAV().connectJob("m-1", base, account)
        case .xandikos:
            let username = TestEnvironment.uniqueName("e2e").lowercased()
            account = DAV.Account(username: username, password: "unused", calendarURL: "\(base)/user/calendars/\(username)/")
            let made = try DAV.dav(
                "MKCALENDAR", account.calendarURL, account,
                body: #"<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#)
            #expect(made.status == 201)
            job = #"{"member_id":"m-1","actor_member_id":"m-1","provider":"caldav","server_url":"\#(account.calendarURL)","username":"\#(username)","password":"unused"}"#
        }
        try await world.organization()
        try await world.member("m-1")
        try world.startWorker()
        _ = try await world.enqueue("connect_calendar", job)
        try await eventually("the CalDAV connection", timeout: .seconds(20), context: world.allLogs) {
            try await DAV().caldavConnection(world, "m-1")?.status == "active"
        }
        try await world.idle()
        return account
    }

    /// The member's app moves an exported object: same UID and properties, new DTSTART/DTEND in UTC, written back with PUT.
    static func move(_ url: String, _ account: DAV.Account, to start: Date, _ end: Date) throws {
        let current = try DAV.dav("GET", url, account)
        #expect(current.status == 200)
        var lines = Array(Self.lines(current.body).dropLast().filter { !$0.isEmpty })
        let marker = lines.contains { $0.hasPrefix("X-CALSYNC-EXPORT") }
        #expect(marker, "calsync's object carries its marker")
        lines = lines.map { line in
            if line.hasPrefix("DTSTART") { return "DTSTART:\(DAV.utc(start))" }
            if line.hasPrefix("DTEND") { return "DTEND:\(DAV.utc(end))" }
            return line
        }
        let status = try DAV.dav("PUT", url, account, body: lines.joined(separator: "\r\n") + "\r\n").status
        #expect((200..<300).contains(status))
    }

    /// The absolute URLs of the calendar's `.ics` objects.
    static func objects(_ account: DAV.Account) throws -> [String] {
        let answer = try DAV.dav(
            "PROPFIND", account.calendarURL, account,
            body: #"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#, depth: "1")
        let base = URL(string: account.calendarURL)!
        return answer.body.components(separatedBy: "href>").compactMap { part in
            guard let href = part.components(separatedBy: "</").first, href.hasSuffix(".ics") else { return nil }
            return URL(string: href, relativeTo: base)?.absoluteURL.absoluteString
        }
    }

    /// The object URL calsync recorded for an appointment.
    static func objectURL(_ world: SyncWorld, _ appointment: String) async throws -> String? {
        let rows = try await world.db.query(
            "SELECT external_event_id FROM appointment_exports WHERE member_id = 'm-1' AND appointment_id = \(appointment)", logger: e2eLogger)
        for try await (id,) in rows.decode((String?,).self) { return id }
        return nil
    }

    @Test("a member's move and delete are reported once, by incremental and full imports alike", arguments: Server.allCases)
    func moveAndDeleteReportedOnce(server: Server) async throws {
        let base = try #require(server.base, "\(server) is not running: run the CalDAV tests through `make test`")
        let t = Times()
        try await SyncWorld.with { world in
            let account = try await connected(world, server, base)
            try await world.export("m-1", "a-1", revision: 1, start: t.text(t.at(10)), end: t.text(t.at(11)))
            try await world.export("m-1", "a-2", revision: 1, start: t.text(t.at(10, dayOffset: 1)), end: t.text(t.at(11, dayOffset: 1)))
            try await world.idle()
            // calsync's own writes, read back, are no change.
            try await world.importNow("m-1")
            try await world.importNow("m-1", full: true)
            #expect(try await world.externalChanges("m-1").isEmpty, "\(world.allLogs)")

            let first = try #require(try await Self.objectURL(world, "a-1"))
            try Self.move(first, account, to: t.at(15), t.at(16.5))
            try await world.importNow("m-1")
            var changes = try await world.externalChanges("m-1")
            try #require(changes.count == 1, "\(world.allLogs)")
            #expect(changes[0].appointment == "a-1" && changes[0].change == "moved" && changes[0].revision == 1)
            #expect(changes[0].start == t.at(15) && changes[0].end == t.at(16.5))
            // Read again, incrementally and in full: nothing new.
            try await world.importNow("m-1")
            try await world.importNow("m-1", full: true)
            #expect(try await world.externalChanges("m-1").count == 1)

            let second = try #require(try await Self.objectURL(world, "a-2"))
            #expect((200..<300).contains(try DAV.dav("DELETE", second, account).status))
            try await world.importNow("m-1")
            try await world.importNow("m-1", full: true)
            changes = try await world.externalChanges("m-1")
            try #require(changes.count == 2, "\(world.allLogs)")
            #expect(changes[1].appointment == "a-2" && changes[1].change == "deleted" && changes[1].start == nil)

            let published = try await world.lifecycleEvents().filter { $0["type"] == "appointment.changed_externally" }
            #expect(published.count == 2)
            #expect(published.first?["appointment_id"] == "a-1" && published.first?["starts_at"] == t.text(t.at(15)))
            #expect(published.first?["provider"] == "caldav" && published.first?["resolution"] == "notify")
            #expect(published.last?["appointment_id"] == "a-2" && published.last?["change"] == "deleted")
            // The calendar stays as the member made it (notify): one object left, at the member's times.
            #expect(try Self.objects(account).count == 1)
            #expect(try DAV.dav("GET", first, account).body.contains("DTSTART:\(DAV.utc(t.at(15)))"))
            // A later export from the web tier wins, and calsync's own write is no change.
            try await world.export("m-1", "a-1", revision: 2, start: t.text(t.at(9)), end: t.text(t.at(10)))
            try await world.idle()
            try await world.importNow("m-1")
            try await world.importNow("m-1", full: true)
            #expect(!(try DAV.dav("GET", first, account).body.contains("DTSTART:\(DAV.utc(t.at(15)))")))
            #expect(try await world.externalChanges("m-1").count == 2, "our own write of revision 2 is no change")
        }
    }

    @Test("restore writes the applied revision back and is not itself reported", arguments: Server.allCases)
    func restore(server: Server) async throws {
        let base = try #require(server.base, "\(server) is not running: run the CalDAV tests through `make test`")
        let t = Times()
        try await SyncWorld.with { world in
            let account = try await connected(world, server, base)
            try await world.db.query("UPDATE calendar_connections SET external_changes = 'restore'", logger: e2eLogger)
            try await world.export("m-1", "a-1", revision: 1, start: t.text(t.at(10)), end: t.text(t.at(11)))
            try await world.idle()
            let url = try #require(try await Self.objectURL(world, "a-1"))
            let original = try DAV.dav("GET", url, account).body

            try Self.move(url, account, to: t.at(15), t.at(16))
            try await world.importNow("m-1")
            let restored = try DAV.dav("GET", url, account).body
            #expect(!restored.contains("DTSTART:\(DAV.utc(t.at(15)))"), "\(world.allLogs)")
            #expect(Self.startLine(restored) == Self.startLine(original))
            try await world.importNow("m-1")
            try await world.importNow("m-1", full: true)
            #expect(try await world.externalChanges("m-1").map(\.change) == ["moved"])

            #expect((200..<300).contains(try DAV.dav("DELETE", url, account).status))
            try await world.importNow("m-1")
            let objects = try Self.objects(account)
            try #require(objects.count == 1, "\(world.allLogs)")
            let recreated = try DAV.dav("GET", objects[0], account).body
            #expect(Self.startLine(recreated) == Self.startLine(original))
            try await world.importNow("m-1")
            try await world.importNow("m-1", full: true)
            #expect(try await world.externalChanges("m-1").map(\.change) == ["moved", "deleted"])
            let published = try await world.lifecycleEvents().filter { $0["type"] == "appointment.changed_externally" }
            #expect(published.map { $0["resolution"] } == ["restore", "restore"])
        }
    }

    @Test("video asked on a CalDAV connection: the event without a link, and the reason", arguments: Server.allCases)
    func noVideoLinkOnCalDAV(server: Server) async throws {
        let base = try #require(server.base, "\(server) is not running: run the CalDAV tests through `make test`")
        let t = Times()
        try await SyncWorld.with { world in
            let account = try await connected(world, server, base)
            try await world.export(
                "m-1", "a-1", revision: 1, start: t.text(t.at(10)), end: t.text(t.at(11)), extra: #","video":"google_meet""#)
            try await world.idle()
            #expect(try Self.objects(account).count == 1, "\(world.allLogs)")
            #expect(try await world.videoURL("m-1", "a-1") == nil)
            let published = try await world.lifecycleEvents()
            #expect(!published.contains { $0["type"] == "appointment.video_link" })
            let unavailable = published.filter { $0["type"] == "appointment.video_link_unavailable" }
            #expect(unavailable.count == 1, "\(published)")
            #expect(unavailable.first?["appointment_id"] == "a-1" && unavailable.first?["provider"] == "caldav")
            #expect(unavailable.first?["reason"] == "provider_has_no_video_links")
        }
    }

    /// The DTSTART line of an object (unfolded lines are short enough).
    static func startLine(_ text: String) -> String? {
        lines(text).first { $0.hasPrefix("DTSTART") }
    }

    /// The lines of a text (CRLF is one Character in Swift: split on it as well as on LF).
    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n", omittingEmptySubsequences: false).flatMap { $0.split(separator: "\r\n", omittingEmptySubsequences: false) }
            .map { String($0) }
    }
}
