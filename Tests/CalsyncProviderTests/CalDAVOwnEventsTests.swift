import CalsyncCalDAV
import CalsyncSync
import Foundation
import Testing

/// Two-way for CalDAV (contract §8): a window read returns calsync's own objects with the times the calendar
/// shows now, whoever wrote them last; somebody else's objects and cancelled ones of ours are not among them.
@Suite("CalDAV own events against real servers")
struct CalDAVOwnEventsTests {
    static let start = CalDAVServerTests.start
    static let window = DateInterval(start: start.addingTimeInterval(-86_400), duration: 7 * 86_400)
    static let utc = TimeZone(identifier: "UTC")!

    /// An RFC 3339 instant.
    static func instant(_ text: String) -> Date? { ISO8601DateFormatter().date(from: text) }

    /// calsync's object as another client rewrites it: same UID and marker, new times in UTC.
    static func rewritten(_ key: ExportKey, start: String, end: String, extra: [String] = []) -> String {
        CalDAVTests.vevent(uid: "calsync-\(key.digest)", start: start, end: end, extra: ["X-CALSYNC-EXPORT:\(key.markerValue)"] + extra)
    }

    @Test(arguments: CalDAVServer.all)
    func aWindowReadReturnsOurObjectsWithTheirCurrentTimes(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let provider = CalDAVTests.provider()
        let key = ExportKey(memberID: "m1", appointmentID: "apt-own")
        let other = ExportKey(memberID: "m1", appointmentID: "apt-other")
        let created = try await provider.upsertEvent(
            CalDAVServerTests.event(key), key: key, calendarID: account.calendarURL, knownEventID: nil, knownETag: nil,
            credentials: account.credentials)
        let second = try await provider.upsertEvent(
            CalDAVServerTests.event(other, start: Self.start.addingTimeInterval(86_400)), key: other, calendarID: account.calendarURL,
            knownEventID: nil, knownETag: nil, credentials: account.credentials)
        let dentist = CalDAVTests.vevent(uid: "dentist", start: "20261119T090000Z", end: "20261119T100000Z")
        #expect(try await CalDAVTests.raw("PUT", account.calendarURL + "dentist.ics", account, body: dentist).status < 300)

        var snapshot = try await provider.readBusy(
            calendarID: account.calendarURL, window: Self.window, memberTimeZone: Self.utc, credentials: account.credentials)
        #expect(Set(snapshot.ownEvents) == [
            OwnEvent(externalEventID: created.id, start: Self.start, end: Self.start.addingTimeInterval(3600)),
            OwnEvent(
                externalEventID: second.id, start: Self.start.addingTimeInterval(86_400), end: Self.start.addingTimeInterval(90_000)),
        ])
        #expect(snapshot.events.map(\.externalEventID) == [account.calendarURL + "dentist.ics"], "our own objects are never busy")

        // The member's app moves the first (UTC times now) and cancels the second.
        #expect(try await CalDAVTests.raw(
            "PUT", created.id, account, body: Self.rewritten(key, start: "20261120T150000Z", end: "20261120T163000Z")).status < 300)
        #expect(try await CalDAVTests.raw(
            "PUT", second.id, account, body: Self.rewritten(other, start: "20261119T090000Z", end: "20261119T100000Z", extra: ["STATUS:CANCELLED"])
        ).status < 300)
        snapshot = try await provider.readBusy(
            calendarID: account.calendarURL, window: Self.window, memberTimeZone: Self.utc, credentials: account.credentials)
        let moved = try #require(snapshot.ownEvents.first)
        #expect(snapshot.ownEvents.count == 1)
        #expect(moved.externalEventID == created.id)
        #expect(moved.start == Self.instant("2026-11-20T15:00:00Z") && moved.end == Self.instant("2026-11-20T16:30:00Z"))

        // Deleted: gone from the read.
        #expect(try await CalDAVTests.raw("DELETE", created.id, account).status < 300)
        snapshot = try await provider.readBusy(
            calendarID: account.calendarURL, window: Self.window, memberTimeZone: Self.utc, credentials: account.credentials)
        #expect(snapshot.ownEvents.isEmpty)
    }
}
