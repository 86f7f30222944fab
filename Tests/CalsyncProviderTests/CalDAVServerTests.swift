import CalsyncCalDAV
import CalsyncHTTP
import CalsyncSync
import Foundation
import NIOHTTP1
import Testing

/// The CalDAV client against real Radicale and Xandikos (scripts/with-services.sh starts both).
@Suite("CalDAV client against real servers")
struct CalDAVServerTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)  // 2026-11-18

    static func event(_ key: ExportKey, start: Date = start, minutes: Int = 60) -> RenderedEvent {
        RenderedEvent(
            title: "Haircut", description: nil, location: nil, start: start, end: start.addingTimeInterval(Double(minutes * 60)),
            timeZone: "Europe/Berlin", visibility: .private, markerValue: key.appointmentID)
    }

    @Test(arguments: CalDAVServer.all)
    func discoveryFindsTheAccountsEventCalendars(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        // An address book next to the calendars is not a calendar.
        let book = account.calendarURL.dropLast() + "-contacts/"
        _ = try await CalDAVTests.raw(
            "MKCOL", String(book), account,
            body: #"<?xml version="1.0"?><d:mkcol xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>"#)
        let found = try await CalDAVTests.provider().connect(
            serverURL: account.serverURL, username: account.username, password: account.password)
        #expect(found.calendars.contains { $0.id == account.calendarURL })
        #expect(!found.calendars.contains { $0.id == String(book) })
        #expect(found.calendars.filter(\.isPrimary).count == 1)
        if server.kind == .radicale {
            // The account's only calendar is its default one.
            #expect(found.calendars.map(\.id) == [account.calendarURL])
            #expect(found.calendars.first?.isPrimary == true)
        }
        #expect(found.credentials.accountEmail == account.username)
        // A calendar's own URL connects to that calendar.
        let direct = try await CalDAVTests.provider().connect(
            serverURL: account.calendarURL, username: account.username, password: account.password)
        #expect(direct.calendars.map(\.id) == [account.calendarURL])
    }

    @Test func aRefusedLoginIsInvalidCredentials() async throws {
        try CalDAVServer.radicale.requireRunning()
        let account = try await CalDAVTests.account(on: .radicale)
        await #expect {
            _ = try await CalDAVTests.provider().connect(serverURL: account.serverURL, username: account.username, password: "wrong")
        } throws: { error in
            guard let error = error as? ProviderError else { return false }
            return error.code == .invalidCredentials && error.kind == .reconnectRequired && !error.message.contains("wrong")
        }
    }

    @Test func plainHTTPIsRefusedOutsideLoopback() async throws {
        await #expect {
            _ = try await CalDAVTests.provider().connect(serverURL: "http://caldav.example.com/", username: "u", password: "p")
        } throws: { error in (error as? ProviderError)?.code == .discoveryFailed }
        #expect(CalDAVURLPolicy.allowed(URL(string: "https://p42-caldav.icloud.com/1234/calendars/")!))
        #expect(CalDAVURLPolicy.allowed(URL(string: "http://127.0.0.1:8080/")!))
        #expect(!CalDAVURLPolicy.allowed(URL(string: "http://p42-caldav.icloud.com/")!))
        #expect(!CalDAVURLPolicy.allowed(URL(string: "ftp://127.0.0.1/")!))
    }

    @Test(arguments: CalDAVServer.all)
    func exportCreatesMovesAndCancels(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let provider = CalDAVTests.provider()
        let key = ExportKey(memberID: "m1", appointmentID: "apt-\(UUID().uuidString.prefix(6))")
        let created = try await provider.upsertEvent(
            Self.event(key), key: key, calendarID: account.calendarURL, knownEventID: nil, knownETag: nil, credentials: account.credentials)
        #expect(created.id.hasPrefix(account.calendarURL))
        #expect(created.etag != nil)
        var stored = try await CalDAVTests.raw("GET", created.id, account)
        #expect(stored.status == 200)
        #expect(stored.body.contains("UID:calsync-\(key.digest)"))
        #expect(!stored.body.contains("ATTENDEE"))
        #expect(!stored.body.contains("ORGANIZER"))
        // A retried create (its answer lost) finds the object (412 on If-None-Match) and writes over it: still one object.
        let retried = try await provider.upsertEvent(
            Self.event(key), key: key, calendarID: account.calendarURL, knownEventID: nil, knownETag: nil, credentials: account.credentials)
        #expect(retried.id == created.id)
        #expect(try await CalDAVTests.objects(account).count == 1)
        // Move: If-Match of the stored ETag.
        let moved = try await provider.upsertEvent(
            Self.event(key, start: Self.start.addingTimeInterval(7200)), key: key, calendarID: account.calendarURL,
            knownEventID: retried.id, knownETag: retried.etag, credentials: account.credentials)
        #expect(moved.id == created.id)
        #expect(moved.etag != retried.etag)
        stored = try await CalDAVTests.raw("GET", created.id, account)
        #expect(stored.body.contains("DTSTART;TZID=Europe/Berlin:" + DAVTestTime.berlin(Self.start.addingTimeInterval(7200))))
        // Cancel: DELETE with If-Match.
        try await provider.deleteEvent(
            key: key, calendarID: account.calendarURL, knownEventID: moved.id, knownETag: moved.etag, credentials: account.credentials)
        #expect(try await CalDAVTests.raw("GET", created.id, account).status == 404)
        // Deleting again is success.
        try await provider.deleteEvent(
            key: key, calendarID: account.calendarURL, knownEventID: moved.id, knownETag: moved.etag, credentials: account.credentials)
        #expect(try await CalDAVTests.objects(account).isEmpty)
    }

    @Test(arguments: CalDAVServer.all)
    func aPUTAnswered412ReadsTheCurrentVersionAndWritesOverIt(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let provider = CalDAVTests.provider()
        let key = ExportKey(memberID: "m1", appointmentID: "apt-412")
        let created = try await provider.upsertEvent(
            Self.event(key), key: key, calendarID: account.calendarURL, knownEventID: nil, knownETag: nil, credentials: account.credentials)
        // Someone else changes the object: calsync's ETag is stale now.
        let theirs = CalDAVTests.vevent(uid: "calsync-\(key.digest)", start: "20261201T090000Z", end: "20261201T100000Z")
        #expect(try await CalDAVTests.raw("PUT", created.id, account, body: theirs).status < 300)
        let newer = Self.start.addingTimeInterval(3 * 3600)
        let written = try await provider.upsertEvent(
            Self.event(key, start: newer), key: key, calendarID: account.calendarURL, knownEventID: created.id,
            knownETag: created.etag, credentials: account.credentials)
        #expect(written.id == created.id)
        let stored = try await CalDAVTests.raw("GET", created.id, account)
        #expect(stored.body.contains("DTSTART;TZID=Europe/Berlin:" + DAVTestTime.berlin(newer)))
        #expect(!stored.body.contains("Dentist"))
        // A stale delete also reads the current version first.
        try await provider.deleteEvent(
            key: key, calendarID: account.calendarURL, knownEventID: created.id, knownETag: created.etag, credentials: account.credentials)
        #expect(try await CalDAVTests.raw("GET", created.id, account).status == 404)
    }

    @Test(arguments: CalDAVServer.all)
    func anObjectNotNamedAfterItsUIDIsKeptAtItsURL(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let provider = CalDAVTests.provider()
        let key = ExportKey(memberID: "m1", appointmentID: "apt-renamed")
        // The server (or an earlier client) keeps the event under a name of its own.
        let odd = account.calendarURL + "server-chosen-\(UUID().uuidString).ics"
        let put = try await CalDAVTests.raw(
            "PUT", odd, account, body: CalDAVTests.vevent(uid: "calsync-\(key.digest)", start: "20261201T090000Z", end: "20261201T100000Z"))
        #expect(put.status < 300)
        let etag = put.headers.first(name: "ETag")
        let written = try await provider.upsertEvent(
            Self.event(key), key: key, calendarID: account.calendarURL, knownEventID: odd, knownETag: etag, credentials: account.credentials)
        #expect(written.id == odd)
        #expect(try await CalDAVTests.objects(account) == [odd])
        try await provider.deleteEvent(
            key: key, calendarID: account.calendarURL, knownEventID: written.id, knownETag: written.etag, credentials: account.credentials)
        #expect(try await CalDAVTests.objects(account).isEmpty)
    }

    @Test func a401AfterThePasswordChangedAsksForAReconnect() async throws {
        try CalDAVServer.radicale.requireRunning()
        var account = try await CalDAVTests.account(on: .radicale)
        let provider = CalDAVTests.provider()
        let key = ExportKey(memberID: "m1", appointmentID: "apt-401")
        let old = account.credentials
        account.password = "changed-\(UUID().uuidString)"
        try CalDAVTests.setRadicalePassword(account.username, account.password)
        await #expect {
            _ = try await provider.upsertEvent(
                Self.event(key), key: key, calendarID: account.calendarURL, knownEventID: nil, knownETag: nil, credentials: old)
        } throws: { error in (error as? ProviderError)?.kind == .authExpired }
        // The sync rules' one refresh ends as reconnect_required: a password cannot be refreshed.
        await #expect {
            _ = try await provider.refresh(old)
        } throws: { error in (error as? ProviderError)?.kind == .reconnectRequired }
    }

    @Test(arguments: CalDAVServer.all)
    func theSyncTokenIsTheCursorAndARefusedTokenAsksForAFullRead(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let provider = CalDAVTests.provider()
        let window = DateInterval(start: Self.start.addingTimeInterval(-86_400), duration: 30 * 86_400)
        let utc = TimeZone(identifier: "UTC")!
        let first = try await provider.readBusy(calendarID: account.calendarURL, window: window, memberTimeZone: utc, credentials: account.credentials)
        let cursor = try #require(first.cursor)
        #expect(cursor.value.hasPrefix("sync:"))
        // Nothing changed: no change, a cursor to go on from.
        let none = try await provider.readBusyChanges(
            calendarID: account.calendarURL, cursor: cursor, memberTimeZone: utc, credentials: account.credentials)
        #expect(none.upserts.isEmpty && none.removedEventIDs.isEmpty)
        #expect(none.cursor != nil)
        // A change: the window is read again.
        let put = try await CalDAVTests.raw(
            "PUT", account.calendarURL + "x.ics", account, body: CalDAVTests.vevent(uid: "x", start: "20261120T090000Z", end: "20261120T100000Z"))
        #expect(put.status < 300)
        await #expect {
            _ = try await provider.readBusyChanges(
                calendarID: account.calendarURL, cursor: cursor, memberTimeZone: utc, credentials: account.credentials)
        } throws: { error in (error as? ProviderError)?.kind == .fullResyncRequired }
        // A token the server refuses: a full read, not a failure.
        await #expect {
            _ = try await provider.readBusyChanges(
                calendarID: account.calendarURL, cursor: SyncCursor("sync:http://bogus.example/sync/1"), memberTimeZone: utc,
                credentials: account.credentials)
        } throws: { error in (error as? ProviderError)?.kind == .fullResyncRequired }
        // The getctag fallback (servers without sync-collection) notices the same change.
        await #expect {
            _ = try await provider.readBusyChanges(
                calendarID: account.calendarURL, cursor: SyncCursor("ctag:stale"), memberTimeZone: utc, credentials: account.credentials)
        } throws: { error in (error as? ProviderError)?.kind == .fullResyncRequired }
    }

    @Test(arguments: CalDAVServer.all)
    func importReadsBusyTimeByTheRulesWithMultigetBatches(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let objects: [(String, String)] = [
            ("busy.ics", CalDAVTests.vevent(uid: "busy", start: "20261120T090000Z", end: "20261120T100000Z")),
            ("free.ics", CalDAVTests.vevent(uid: "free", start: "20261120T110000Z", end: "20261120T120000Z", extra: ["TRANSP:TRANSPARENT"])),
            ("cancelled.ics", CalDAVTests.vevent(uid: "cancelled", start: "20261120T130000Z", end: "20261120T140000Z", extra: ["STATUS:CANCELLED"])),
            ("declined.ics", CalDAVTests.vevent(
                uid: "declined", start: "20261120T150000Z", end: "20261120T160000Z",
                extra: ["ATTENDEE;PARTSTAT=DECLINED:mailto:\(account.username)"])),
            ("allday.ics", (["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VEVENT", "UID:allday", "DTSTAMP:20261101T000000Z",
                "DTSTART;VALUE=DATE:20261121", "DTEND;VALUE=DATE:20261122", "SUMMARY:Off", "END:VEVENT", "END:VCALENDAR"]).joined(separator: "\r\n") + "\r\n"),
            ("floating.ics", CalDAVTests.vevent(uid: "floating", start: "20261122T090000", end: "20261122T100000")),
            // Weekly at 10:00 Berlin from before to after the end of daylight saving (2026-10-25), one instance
            // cancelled and one moved.
            ("weekly.ics", (["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN",
                "BEGIN:VTIMEZONE", "TZID:Europe/Berlin",
                "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST", "DTSTART:19700329T020000", "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
                "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET", "DTSTART:19701025T030000", "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
                "END:VTIMEZONE",
                "BEGIN:VEVENT", "UID:weekly", "DTSTAMP:20261101T000000Z", "DTSTART;TZID=Europe/Berlin:20261014T100000",
                "DTEND;TZID=Europe/Berlin:20261014T110000", "RRULE:FREQ=WEEKLY;COUNT=5", "EXDATE;TZID=Europe/Berlin:20261028T100000",
                "SUMMARY:Weekly", "END:VEVENT",
                "BEGIN:VEVENT", "UID:weekly", "DTSTAMP:20261101T000000Z", "RECURRENCE-ID;TZID=Europe/Berlin:20261104T100000",
                "DTSTART;TZID=Europe/Berlin:20261104T150000", "DTEND;TZID=Europe/Berlin:20261104T160000", "SUMMARY:Weekly moved", "END:VEVENT",
                "END:VCALENDAR"]).joined(separator: "\r\n") + "\r\n"),
        ]
        for (name, text) in objects {
            let put = try await CalDAVTests.raw("PUT", account.calendarURL + name, account, body: text)
            #expect(put.status < 300, "PUT \(name) answered \(put.status): \(put.body.prefix(200))")
        }
        // calsync's own export is not imported back.
        let key = ExportKey(memberID: "m1", appointmentID: "apt-own")
        _ = try await CalDAVTests.provider().upsertEvent(
            Self.event(key, start: Self.at("2026-11-20T17:00:00Z")), key: key, calendarID: account.calendarURL, knownEventID: nil,
            knownETag: nil, credentials: account.credentials)
        let member = TimeZone(identifier: "America/New_York")!
        let window = DateInterval(start: Self.at("2026-10-01T00:00:00Z"), end: Self.at("2026-12-01T00:00:00Z"))
        var configuration = CalDAVConfiguration(http: .init(requestTimeout: .seconds(60)))
        configuration.multigetBatch = 2
        let snapshot = try await CalDAVTests.provider(configuration).readBusy(
            calendarID: account.calendarURL, window: window, memberTimeZone: member, credentials: account.credentials)
        let spans = snapshot.events.map { "\(Self.iso($0.start))/\(Self.iso($0.end))\($0.isAllDay ? " all-day" : "")" }.sorted()
        #expect(spans == [
            "2026-10-14T08:00:00Z/2026-10-14T09:00:00Z",  // 10:00 CEST
            "2026-10-21T08:00:00Z/2026-10-21T09:00:00Z",
            "2026-11-04T14:00:00Z/2026-11-04T15:00:00Z",  // moved to 15:00 CET
            "2026-11-11T09:00:00Z/2026-11-11T10:00:00Z",  // 10:00 CET, after the change
            "2026-11-20T09:00:00Z/2026-11-20T10:00:00Z",
            "2026-11-21T05:00:00Z/2026-11-22T05:00:00Z all-day",  // midnight to midnight in New York
            "2026-11-22T14:00:00Z/2026-11-22T15:00:00Z",  // floating 09:00 in New York
        ])
        #expect(Set(snapshot.events.map(\.externalEventID)).count == snapshot.events.count)
        #expect(snapshot.events.allSatisfy { $0.externalEventID.hasPrefix(account.calendarURL) })
    }

    static func at(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }
    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    @Test(arguments: CalDAVServer.all)
    func tenMegabytesOfHostileICalendarIsAClearErrorNotACrash(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        // 10 MB: one event whose DESCRIPTION is huge, plus deep nesting.
        let filler = String(repeating: "A", count: 10 << 20)
        var lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//hostile//EN", "BEGIN:VEVENT", "UID:hostile", "DTSTAMP:20261101T000000Z",
                     "DTSTART:20261120T090000Z", "DTEND:20261120T100000Z", "SUMMARY:x"]
        lines.append("DESCRIPTION:" + filler)
        lines += ["END:VEVENT", "END:VCALENDAR"]
        let put = try await CalDAVTests.raw("PUT", account.calendarURL + "hostile.ics", account, body: lines.joined(separator: "\r\n") + "\r\n")
        var configuration = CalDAVConfiguration(http: .init(requestTimeout: .seconds(60), maxResponseBytes: 8 << 20))
        configuration.multigetBatch = 50
        let window = DateInterval(start: Self.start, duration: 30 * 86_400)
        if put.status < 300 {
            // Read back: the object is larger than an answer may be; it is skipped, the read goes on.
            let snapshot = try await CalDAVTests.provider(configuration).readBusy(
                calendarID: account.calendarURL, window: window, memberTimeZone: TimeZone(identifier: "UTC")!, credentials: account.credentials)
            #expect(!snapshot.events.contains { $0.externalEventID.contains("hostile") })
        }
    }
}

enum DAVTestTime {
    /// `YYYYMMDDTHHMMSS` in Europe/Berlin.
    static func berlin(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "Europe/Berlin")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        return formatter.string(from: date)
    }

    /// `YYYYMMDDTHHMMSSZ`.
    static func utc(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }
}
