import CalsyncICal
import Foundation
import Testing

/// Which events block time, and how all-day and floating times are read.
@Suite struct BusyRuleTests {
    let december = Fixture.window("2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z")

    /// A plain event is busy once, with no recurrence id.
    @Test func plainEvent() throws {
        let found = try Fixture.busy(Fixture.calendar(Fixture.event(
            "UID:plain", "DTSTART:20261205T090000Z", "DTEND:20261205T100000Z"
        )), december)
        #expect(found == [ICalBusyOccurrence(
            uid: "plain", recurrenceID: nil, start: Fixture.utc("2026-12-05T09:00:00Z"), end: Fixture.utc("2026-12-05T10:00:00Z"),
            allDay: false
        )])
    }

    /// VALUE=DATE spans midnight to midnight in the member's zone.
    @Test func allDayInTheMembersZone() throws {
        let text = Fixture.calendar(Fixture.event("UID:allday", "DTSTART;VALUE=DATE:20261205", "DTEND;VALUE=DATE:20261207"))
        let berlin = try Fixture.busy(text, december)
        #expect(berlin.map(\.start) == [Fixture.utc("2026-12-04T23:00:00Z")])
        #expect(berlin.map(\.end) == [Fixture.utc("2026-12-06T23:00:00Z")])
        #expect(berlin.first?.allDay == true)
        let newYork = try Fixture.busy(text, december, zone: "America/New_York")
        #expect(newYork.map(\.start) == [Fixture.utc("2026-12-05T05:00:00Z")])
    }

    /// An all-day event without DTEND lasts one day.
    @Test func allDayWithoutEnd() throws {
        let found = try Fixture.busy(Fixture.calendar(Fixture.event("UID:one-day", "DTSTART;VALUE=DATE:20261205")), december)
        #expect(found.map(\.end) == [Fixture.utc("2026-12-05T23:00:00Z")])
    }

    /// A floating time is read in the member's zone.
    @Test func floatingInTheMembersZone() throws {
        let text = Fixture.calendar(Fixture.event("UID:floating", "DTSTART:20261205T090000", "DTEND:20261205T100000"))
        #expect(try Fixture.busy(text, december, zone: "America/New_York").map(\.start) == [Fixture.utc("2026-12-05T14:00:00Z")])
        #expect(try Fixture.busy(text, december, zone: "Europe/Berlin").map(\.start) == [Fixture.utc("2026-12-05T08:00:00Z")])
    }

    /// The member's own DECLINED is not busy (address compared without case and `mailto:`); someone else's is.
    @Test func declinedByTheMember() throws {
        let mine = Fixture.calendar(Fixture.event(
            "UID:declined", "DTSTART:20261205T090000Z", "DTEND:20261205T100000Z",
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:boss@example.com", "ATTENDEE;PARTSTAT=DECLINED:MAILTO:Anna@Example.com"
        ))
        #expect(try Fixture.busy(mine, december, addresses: ["anna@example.com"]).isEmpty)
        #expect(try Fixture.busy(mine, december, addresses: ["mailto:ANNA@example.com"]).isEmpty)
        #expect(try Fixture.busy(mine, december, addresses: ["someone@example.com"]).count == 1)
        let accepted = mine.replacingOccurrences(of: "PARTSTAT=DECLINED", with: "PARTSTAT=ACCEPTED")
        #expect(try Fixture.busy(accepted, december).count == 1)
    }

    /// A declined series with one accepted instance: only that instance is busy.
    @Test func acceptedInstanceOfADeclinedSeries() throws {
        let text = Fixture.calendar(
            Fixture.event(
                "UID:series", "DTSTART:20261201T090000Z", "DTEND:20261201T100000Z", "RRULE:FREQ=DAILY;COUNT=5",
                "ATTENDEE;PARTSTAT=DECLINED:mailto:anna@example.com"
            ),
            Fixture.event(
                "UID:series", "RECURRENCE-ID:20261203T090000Z", "DTSTART:20261203T090000Z", "DTEND:20261203T100000Z",
                "ATTENDEE;PARTSTAT=ACCEPTED:mailto:anna@example.com"
            )
        )
        #expect(try Fixture.busy(text, december).map(\.recurrenceID) == ["20261203T090000Z"])
    }

    /// TRANSP:TRANSPARENT and STATUS:CANCELLED are not busy; a cancelled master cancels the whole series.
    @Test func transparentAndCancelled() throws {
        let transparent = Fixture.calendar(Fixture.event(
            "UID:free", "DTSTART:20261205T090000Z", "DTEND:20261205T100000Z", "TRANSP:TRANSPARENT"
        ))
        #expect(try Fixture.busy(transparent, december).isEmpty)
        let opaque = transparent.replacingOccurrences(of: "TRANSP:TRANSPARENT", with: "TRANSP:OPAQUE")
        #expect(try Fixture.busy(opaque, december).count == 1)
        let cancelled = Fixture.calendar(
            Fixture.event("UID:gone", "DTSTART:20261205T090000Z", "DTEND:20261205T100000Z", "RRULE:FREQ=DAILY;COUNT=3", "STATUS:CANCELLED"),
            Fixture.event("UID:gone", "RECURRENCE-ID:20261206T090000Z", "DTSTART:20261206T120000Z", "DTEND:20261206T130000Z")
        )
        #expect(try Fixture.busy(cancelled, december).isEmpty)
    }

    /// calsync's own exports (the marker property) are skipped, recurring or not.
    @Test func calsyncExportsAreSkipped() throws {
        let text = Fixture.calendar(Fixture.event(
            "UID:ours", "DTSTART:20261205T090000Z", "DTEND:20261205T100000Z", "RRULE:FREQ=DAILY;COUNT=3",
            "\(ICalendar.exportMarkerProperty):appt-1"
        ))
        #expect(try Fixture.busy(text, december).isEmpty)
        let without = text.replacingOccurrences(of: "\(ICalendar.exportMarkerProperty):appt-1\r\n", with: "")
        #expect(try Fixture.busy(without, december).count == 3)
    }

    /// Only occurrences overlapping the window count; an event ending at the window's start does not.
    @Test func windowBounds() throws {
        let text = Fixture.calendar(Fixture.event(
            "UID:edge", "DTSTART:20261130T230000Z", "DTEND:20261201T000000Z", "RRULE:FREQ=HOURLY;COUNT=3"
        ))
        #expect(try Fixture.busy(text, december).map(\.start) == [Fixture.utc("2026-12-01T00:00:00Z"), Fixture.utc("2026-12-01T01:00:00Z")])
    }

    /// VTODO and VJOURNAL are not events: nothing busy, no error.
    @Test func nonEventsAreIgnored() throws {
        let text = Fixture.calendar("BEGIN:VTODO\r\nUID:todo\r\nDTSTART:20261205T090000Z\r\nEND:VTODO")
        #expect(try Fixture.busy(text, december).isEmpty)
    }
}
