import CalsyncSandbox
import CalsyncSync
import Foundation
import NIOHTTP1
import Testing

/// Recurring events through the real Google and Graph clients against the sandbox, which expands a series in its own
/// zone as the services do: instance ids stay distinct, exceptions and cancellations land on the right instances,
/// a daylight-saving change keeps the wall-clock time, and incremental reads update exactly the right blocks.
@Suite struct RecurringEventTests {
    static let zone = "Europe/Berlin"

    /// The instant of a Berlin wall-clock time.
    static func berlin(_ month: Int, _ day: Int, _ hour: Int, _ minute: Int = 0) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone)!
        return calendar.date(from: DateComponents(year: 2027, month: month, day: day, hour: hour, minute: minute))!
    }

    /// An RFC 3339 UTC instant.
    static func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    /// The member's busy blocks after applying changes (removals, then upserts), as the import does.
    static func apply(_ changes: BusyChanges, to blocks: inout [String: BusyEvent]) {
        for id in changes.removedEventIDs { blocks.removeValue(forKey: id) }
        for event in changes.upserts { blocks[event.externalEventID] = event }
    }

    /// Weekly Tuesday 10:00 Berlin over the March 2027 change: an EXDATE, a cancelled and a moved instance; then a
    /// cancellation and a move of the whole series arrive incrementally.
    @Test(arguments: SandboxProvider.allCases)
    func weeklySeriesAcrossTheMarchChange(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind, timeZone: Self.zone) { h in
            var first = SandboxEvent(summary: "Weekly", start: Self.berlin(3, 9, 10), end: Self.berlin(3, 9, 11))
            first.timeZone = Self.zone
            let series = h.sandbox.insertRecurringEvent(
                kind, email: h.email, calendarID: h.calendarID, first,
                recurrence: ["RRULE:FREQ=WEEKLY;COUNT=6", "EXDATE;TZID=Europe/Berlin:20270316T100000"]
            )
            #expect(!series.isEmpty)
            h.sandbox.changeInstance(kind, email: h.email, calendarID: h.calendarID, seriesID: series,
                                     recurrenceID: "20270323T090000Z", .cancel)
            h.sandbox.changeInstance(kind, email: h.email, calendarID: h.calendarID, seriesID: series,
                                     recurrenceID: "20270330T080000Z", .move(start: Self.berlin(3, 30, 15), end: Self.berlin(3, 30, 16)))

            let window = DateInterval(start: Self.utc("2027-03-01T00:00:00Z"), end: Self.utc("2027-05-01T00:00:00Z"))
            let member = TimeZone(identifier: Self.zone)!
            let snapshot = try await h.provider.readBusy(
                calendarID: h.calendarID, window: window, memberTimeZone: member, credentials: h.credentials)
            let sorted = snapshot.events.sorted { $0.start < $1.start }
            #expect(sorted.map(\.start) == [
                Self.berlin(3, 9, 10), Self.berlin(3, 30, 15), Self.berlin(4, 6, 10), Self.berlin(4, 13, 10),
            ])
            #expect(sorted.map(\.start) == [
                Self.utc("2027-03-09T09:00:00Z"), Self.utc("2027-03-30T13:00:00Z"),
                Self.utc("2027-04-06T08:00:00Z"), Self.utc("2027-04-13T08:00:00Z"),
            ])
            #expect(sorted.allSatisfy { $0.end.timeIntervalSince($0.start) == 3600 && !$0.isAllDay })
            #expect(Set(sorted.map(\.externalEventID)).count == 4)
            #expect(sorted.map(\.externalEventID) == [
                "\(series)_20270309T090000Z", "\(series)_20270330T080000Z", "\(series)_20270406T080000Z", "\(series)_20270413T080000Z",
            ])
            var blocks = Dictionary(uniqueKeysWithValues: snapshot.events.map { ($0.externalEventID, $0) })
            var cursor = try #require(snapshot.cursor)

            // One instance cancelled later: only that block goes.
            h.sandbox.changeInstance(kind, email: h.email, calendarID: h.calendarID, seriesID: series,
                                     recurrenceID: "20270406T080000Z", .cancel)
            let cancelled = try await h.provider.readBusyChanges(
                calendarID: h.calendarID, cursor: cursor, memberTimeZone: member, credentials: h.credentials)
            #expect(cancelled.removedEventIDs.contains("\(series)_20270406T080000Z"))
            Self.apply(cancelled, to: &blocks)
            #expect(blocks.values.map(\.start).sorted() == [Self.berlin(3, 9, 10), Self.berlin(3, 30, 15), Self.berlin(4, 13, 10)])
            cursor = try #require(cancelled.cursor)

            // The whole series moves to 11:00: every block follows, none is left behind at 10:00. The EXDATE and the
            // changed instances named 10:00 instances, so they no longer match (RFC 5545): six instances at 11:00.
            h.sandbox.updateEvent(kind, email: h.email, calendarID: h.calendarID, eventID: series) { event in
                event.start = Self.berlin(3, 9, 11)
                event.end = Self.berlin(3, 9, 12)
            }
            let moved = try await h.provider.readBusyChanges(
                calendarID: h.calendarID, cursor: cursor, memberTimeZone: member, credentials: h.credentials)
            Self.apply(moved, to: &blocks)
            #expect(blocks.values.map(\.start).sorted() == [
                Self.berlin(3, 9, 11), Self.berlin(3, 16, 11), Self.berlin(3, 23, 11), Self.berlin(3, 30, 11), Self.berlin(4, 6, 11),
                Self.berlin(4, 13, 11),
            ])
            #expect(blocks.keys.allSatisfy { $0.hasPrefix("\(series)_") })
        }
    }

    /// A weekly all-day series over the March change: each instance midnight to midnight in the member's zone.
    @Test(arguments: SandboxProvider.allCases)
    func allDaySeries(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind, timeZone: Self.zone) { h in
            var first = SandboxEvent(summary: "Off", start: Self.berlin(3, 26, 0), end: Self.berlin(3, 27, 0))
            first.allDayStart = "2027-03-26"
            first.allDayEnd = "2027-03-27"
            first.timeZone = Self.zone
            let series = h.sandbox.insertRecurringEvent(
                kind, email: h.email, calendarID: h.calendarID, first, recurrence: ["RRULE:FREQ=WEEKLY;COUNT=3"])
            #expect(!series.isEmpty)
            let window = DateInterval(start: Self.utc("2027-03-01T00:00:00Z"), end: Self.utc("2027-05-01T00:00:00Z"))
            let snapshot = try await h.provider.readBusy(
                calendarID: h.calendarID, window: window, memberTimeZone: TimeZone(identifier: Self.zone)!, credentials: h.credentials)
            let sorted = snapshot.events.sorted { $0.start < $1.start }
            #expect(sorted.map(\.start) == [Self.berlin(3, 26, 0), Self.berlin(4, 2, 0), Self.berlin(4, 9, 0)])
            #expect(sorted.map(\.end) == [Self.berlin(3, 27, 0), Self.berlin(4, 3, 0), Self.berlin(4, 10, 0)])
            #expect(sorted.allSatisfy { $0.isAllDay })
            #expect(sorted.map(\.externalEventID) == ["\(series)_20270326", "\(series)_20270402", "\(series)_20270409"])
        }
    }

    /// A deleted series removes every block of it in the next incremental read.
    @Test(arguments: SandboxProvider.allCases)
    func deletedSeriesRemovesEveryInstance(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind, timeZone: Self.zone) { h in
            var first = SandboxEvent(summary: "Daily", start: Self.berlin(3, 26, 8), end: Self.berlin(3, 26, 9))
            first.timeZone = Self.zone
            let series = h.sandbox.insertRecurringEvent(
                kind, email: h.email, calendarID: h.calendarID, first, recurrence: ["RRULE:FREQ=DAILY;COUNT=4"])
            let window = DateInterval(start: Self.utc("2027-03-01T00:00:00Z"), end: Self.utc("2027-05-01T00:00:00Z"))
            let member = TimeZone(identifier: Self.zone)!
            let snapshot = try await h.provider.readBusy(
                calendarID: h.calendarID, window: window, memberTimeZone: member, credentials: h.credentials)
            // 26 and 27 March in CET, 28 and 29 in CEST: 08:00 local throughout.
            #expect(snapshot.events.map(\.start).sorted() == [
                Self.utc("2027-03-26T07:00:00Z"), Self.utc("2027-03-27T07:00:00Z"),
                Self.utc("2027-03-28T06:00:00Z"), Self.utc("2027-03-29T06:00:00Z"),
            ])
            var blocks = Dictionary(uniqueKeysWithValues: snapshot.events.map { ($0.externalEventID, $0) })
            h.sandbox.deleteEvent(kind, email: h.email, calendarID: h.calendarID, eventID: series)
            let changes = try await h.provider.readBusyChanges(
                calendarID: h.calendarID, cursor: try #require(snapshot.cursor), memberTimeZone: member, credentials: h.credentials)
            Self.apply(changes, to: &blocks)
            #expect(blocks.isEmpty)
        }
    }

    /// The control API creates a series and changes an instance; Google's list shows instances, an exception and a
    /// cancelled instance (with `showDeleted`), each with `recurringEventId` and `originalStartTime`.
    @Test func controlAPICreatesASeries() async throws {
        let sandbox = Sandbox()
        try await withSandboxServer(sandbox) { e in
            let email = "r@example.test"
            #expect(try await SandboxTests.send(.POST, e.control + "/accounts", json: #"{"provider":"google","email":"r@example.test","timeZone":"Europe/Berlin"}"#).status == 201)
            let insert = #"{"provider":"google","email":"r@example.test","event":{"summary":"Weekly","start":"2027-03-09T09:00:00Z","end":"2027-03-09T10:00:00Z","timeZone":"Europe/Berlin","free":false,"cancelled":false,"declinedBySelf":false,"privateProperties":{}},"recurrence":["RRULE:FREQ=WEEKLY;COUNT=3"]}"#
            let created = try await SandboxTests.send(.POST, e.control + "/recurring-events", json: insert)
            #expect(created.status == 201)
            let series = try #require(created.json["id"] as? String)
            let cancel = #"{"provider":"google","email":"r@example.test","seriesID":"\#(series)","recurrenceID":"20270316T090000Z","cancel":true}"#
            #expect(try await SandboxTests.send(.POST, e.control + "/instance-changes", json: cancel).status == 204)
            let move = #"{"provider":"google","email":"r@example.test","seriesID":"\#(series)","recurrenceID":"20270323T090000Z","start":"2027-03-30T12:00:00Z","end":"2027-03-30T13:00:00Z"}"#
            #expect(try await SandboxTests.send(.POST, e.control + "/instance-changes", json: move).status == 204)
            let access = try #require(sandbox.issueTokens(.google, email: email)?.accessToken)
            let list = try await SandboxTests.send(
                .GET, e.googleAPI + "/calendars/r%40example.test/events?singleEvents=true&showDeleted=true&orderBy=startTime"
                    + "&timeMin=2027-03-01T00:00:00Z&timeMax=2027-05-01T00:00:00Z", bearer: access)
            #expect(list.status == 200)
            let items = list.items
            #expect(items.map { $0["id"] as? String } == ["\(series)_20270309T090000Z", "\(series)_20270316T090000Z", "\(series)_20270323T090000Z"])
            #expect(items.map { $0["status"] as? String } == ["confirmed", "cancelled", "confirmed"])
            #expect(items.allSatisfy { $0["recurringEventId"] as? String == series && $0["recurrence"] == nil })
            #expect((items.last?["start"] as? [String: Any])?["dateTime"] as? String == "2027-03-30T14:00:00+02:00")
            #expect((items.last?["originalStartTime"] as? [String: Any])?["dateTime"] as? String == "2027-03-23T10:00:00+01:00")
            let masters = try await SandboxTests.send(
                .GET, e.googleAPI + "/calendars/r%40example.test/events?timeMin=2027-03-01T00:00:00Z&timeMax=2027-05-01T00:00:00Z", bearer: access)
            #expect(masters.items.map { $0["recurrence"] as? [String] } == [["RRULE:FREQ=WEEKLY;COUNT=3"]])
        }
    }
}
