import CalsyncQueue
import CalsyncTestSupport
import Foundation
import PostgresNIO
import Testing

/// The real worker against a real Radicale (scripts/with-services.sh starts it): connect, export, a refused
/// login, a password changed later.
@Suite("CalDAV end to end (Radicale)")
struct CalDAVEndToEndTests {
    static var radicale: String? { ProcessInfo.processInfo.environment["CALSYNC_TEST_RADICALE_URL"] }
    static var users: String? { ProcessInfo.processInfo.environment["CALSYNC_TEST_RADICALE_USERS"] }

    struct Account: Sendable {
        var username: String
        var password: String
        var calendarURL: String
    }

    /// A Radicale user with one calendar of its own.
    static func account(base: String) throws -> Account {
        let username = TestEnvironment.uniqueName("e2e").lowercased()
        let account = Account(username: username, password: "pw-\(UUID().uuidString)", calendarURL: "\(base)/\(username)/work/")
        try setPassword(username, account.password)
        let made = try dav(
            "MKCALENDAR", account.calendarURL, account,
            body: #"<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#)
        #expect(made.status == 201)
        return account
    }

    static func setPassword(_ username: String, _ password: String) throws {
        try RadicaleUsers.set(username, password)
    }

    /// One WebDAV request with curl (the test's own hand in the calendar).
    static func dav(_ method: String, _ url: String, _ account: Account, body: String? = nil, depth: String? = nil) throws -> (status: Int, body: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        var arguments = ["curl", "-s", "-X", method, "-u", "\(account.username):\(account.password)", "-w", "\n%{http_code}"]
        if let depth { arguments += ["-H", "Depth: \(depth)"] }
        if let body {
            arguments += ["-H", method == "PUT" ? "Content-Type: text/calendar" : "Content-Type: application/xml", "--data-binary", body]
        }
        process.arguments = arguments + [url]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        let status = Int(text.split(separator: "\n").last ?? "") ?? 0
        return (status, text)
    }

    /// The `.ics` objects of the calendar.
    static func objects(_ account: Account) throws -> [String] {
        let answer = try dav(
            "PROPFIND", account.calendarURL, account, body: #"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#,
            depth: "1")
        return answer.body.components(separatedBy: "<href>").dropFirst().compactMap { part in
            let href = part.components(separatedBy: "</href>").first ?? ""
            return href.hasSuffix(".ics") ? href : nil
        }
    }

    func connectJob(_ member: String, _ base: String, _ account: Account, password: String? = nil) -> String {
        #"{"member_id":"\#(member)","actor_member_id":"\#(member)","provider":"caldav","server_url":"\#(base)/","username":"\#(account.username)","password":"\#(password ?? account.password)"}"#
    }

    func caldavConnection(_ world: SyncWorld, _ member: String) async throws -> (status: String, detail: String?, email: String?, calendar: String?)? {
        let rows = try await world.db.query(
            "SELECT status, status_detail, account_email, export_calendar_id FROM calendar_connections WHERE member_id = \(member) AND provider = 'caldav'",
            logger: e2eLogger)
        for try await row in rows.decode((String, String?, String?, String?).self) { return row }
        return nil
    }

    @Test func connectExportAndCancelOnRadicale() async throws {
        let base = try #require(Self.radicale, "Radicale is not running: run the CalDAV tests through `make test`")
        let account = try Self.account(base: base)
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try world.startWorker()
            _ = try await world.enqueue("connect_calendar", connectJob("m-1", base, account))
            try await eventually("the CalDAV connection", timeout: .seconds(20), context: world.allLogs) {
                try await caldavConnection(world, "m-1")?.status == "active"
            }
            let connection = try #require(try await caldavConnection(world, "m-1"))
            #expect(connection.email == account.username)
            #expect(connection.calendar == account.calendarURL)
            try await world.idle()
            // Export: one object in the calendar, without the customer's details (private by default) or attendees.
            try await world.export("m-1", "apt-1", revision: 1)
            try await world.idle()
            var objects = try Self.objects(account)
            #expect(objects.count == 1)
            let object = try Self.dav("GET", "\(base)\(objects.first ?? "/")", account).body
            #expect(object.contains("BEGIN:VEVENT"))
            #expect(!object.contains("ATTENDEE") && !object.contains("ORGANIZER"))
            #expect(!object.contains("secret note"))
            // Move, then cancel.
            try await world.export("m-1", "apt-1", revision: 2, start: "\(TestDay.d(0))T12:00:00Z", end: "\(TestDay.d(0))T13:00:00Z")
            try await world.idle()
            objects = try Self.objects(account)
            #expect(objects.count == 1)
            try await world.export("m-1", "apt-1", revision: 3, status: "cancelled")
            try await world.idle()
            #expect(try Self.objects(account).isEmpty)
            // Nothing of the password in logs, Redis or columns.
            #expect(!world.allLogs.contains(account.password))
            #expect(!(try await world.databaseText()).contains(account.password))
            #expect(!(try await world.redisDump()).contains(account.password))
        }
    }

    @Test func aRefusedLoginIsDeadAsInvalidCredentialsAndALater401AsksForAReconnect() async throws {
        let base = try #require(Self.radicale, "Radicale is not running: run the CalDAV tests through `make test`")
        let account = try Self.account(base: base)
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try world.startWorker()
            _ = try await world.enqueue("connect_calendar", connectJob("m-1", base, account, password: "wrong-\(UUID().uuidString)"))
            try await world.idle()
            let dead = try await world.queue.deadList(type: nil, limit: 10)
            #expect(dead.count == 1)
            #expect(dead.first?.reason == "invalid_credentials")
            #expect(dead.first?.error?.contains("app-specific password") == true)
            #expect(dead.first?.raw.contains("wrong-") == false)
            #expect(try await caldavConnection(world, "m-1") == nil)

            _ = try await world.enqueue("connect_calendar", connectJob("m-1", base, account))
            try await eventually("the CalDAV connection", timeout: .seconds(20), context: world.allLogs) {
                try await caldavConnection(world, "m-1")?.status == "active"
            }
            try await world.idle()
            // The member changes the password at the server: the next export finds a 401.
            try Self.setPassword(account.username, "changed-\(UUID().uuidString)")
            try await world.export("m-1", "apt-1", revision: 1)
            try await eventually("reconnect_required", timeout: .seconds(20), context: world.allLogs) {
                try await caldavConnection(world, "m-1")?.status == "reconnect_required"
            }
            let connection = try #require(try await caldavConnection(world, "m-1"))
            #expect(connection.detail?.contains("password") == true)
        }
    }

    /// `YYYYMMDDTHHMMSSZ`.
    static func utc(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    @Test func importMakesTheMembersBusyBlocksEqualToTheCalendarsBusyEvents() async throws {
        let base = try #require(Self.radicale, "Radicale is not running: run the CalDAV tests through `make test`")
        let account = try Self.account(base: base)
        // Tomorrow 09:00–10:00 UTC (inside the rolling window), and a free event next to it.
        let day = Calendar(identifier: .gregorian).startOfDay(for: Date().addingTimeInterval(86_400))
        let busyStart = day.addingTimeInterval(9 * 3600)
        func vevent(_ uid: String, _ start: Date, _ extra: String = "") -> String {
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:\(uid)\r\nDTSTAMP:20261101T000000Z\r\n"
                + "DTSTART:\(Self.utc(start))\r\nDTEND:\(Self.utc(start.addingTimeInterval(3600)))\r\n\(extra)SUMMARY:Private\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        }
        #expect(try Self.dav("PUT", account.calendarURL + "dentist.ics", account, body: vevent("dentist", busyStart)).status == 201)
        #expect(try Self.dav("PUT", account.calendarURL + "free.ics", account, body: vevent("free", busyStart.addingTimeInterval(7200), "TRANSP:TRANSPARENT\r\n")).status == 201)
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try world.startWorker()
            _ = try await world.enqueue("connect_calendar", connectJob("m-1", base, account))
            try await eventually("the CalDAV connection", timeout: .seconds(20), context: world.allLogs) {
                try await caldavConnection(world, "m-1")?.status == "active"
            }
            // The connect's first import.
            try await world.idle()
            #expect(try await world.visibleBusy("m-1") == [DateInterval(start: busyStart, duration: 3600)])
            // calsync's own export is never imported back; an unchanged calendar is not read again.
            try await world.export(
                "m-1", "apt-1", revision: 1, start: ISO8601DateFormatter().string(from: busyStart.addingTimeInterval(4 * 3600)),
                end: ISO8601DateFormatter().string(from: busyStart.addingTimeInterval(5 * 3600)))
            try await world.idle()
            #expect(try Self.objects(account).count == 3)
            _ = try await world.enqueue("import_window", #"{"member_id":"m-1","provider":"caldav"}"#)
            try await world.idle()
            #expect(try await world.visibleBusy("m-1") == [DateInterval(start: busyStart, duration: 3600)])
            // The member deletes the dentist: the next import (sync-collection sees a change) removes the block.
            #expect((200..<300).contains(try Self.dav("DELETE", account.calendarURL + "dentist.ics", account).status))
            _ = try await world.enqueue("import_window", #"{"member_id":"m-1","provider":"caldav"}"#)
            try await world.idle()
            #expect(try await world.visibleBusy("m-1") == [])
            let connection = try #require(try await caldavConnection(world, "m-1"))
            #expect(connection.status == "active")
        }
    }
}
