import CalsyncICal
import Foundation
import Testing

/// calsync's own event read back (two-way): its marker and the times it shows now, in the event's own zone.
@Suite struct ExportedEventTests {
    let december = Fixture.window("2026-12-01T00:00:00Z", "2026-12-31T00:00:00Z")
    let berlin = TimeZone(identifier: "Europe/Berlin")!

    /// What calsync rendered reads back with the same instants and marker.
    @Test func aRenderedExportReadsBack() throws {
        let start = Fixture.local(2026, 12, 5, 10, in: "Europe/Berlin")
        let text = try ICalendar.render(ICalExportEvent(
            uid: "calsync-x", sequence: 1, stamp: Fixture.utc("2026-12-01T08:00:00Z"), start: start, end: start.addingTimeInterval(5400),
            timeZone: "Europe/Berlin", summary: "Haircut", classification: .private, markerValue: "digest-1"))
        let found = try ICalendar.exportedEvent(in: text, window: december, memberTimeZone: TimeZone(identifier: "UTC")!)
        #expect(found == ICalExportedEvent(markerValue: "digest-1", start: start, end: start.addingTimeInterval(5400), cancelled: false))
    }

    /// A member's app rewrote it: another zone, a duration instead of DTEND, or cancelled.
    @Test func aMembersRewriteIsReadInItsOwnZone() throws {
        let moved = Fixture.calendar(Fixture.event(
            "UID:calsync-x", "DTSTART;TZID=America/New_York:20261205T090000", "DURATION:PT45M", "X-CALSYNC-EXPORT:digest-1"))
        let found = try #require(try ICalendar.exportedEvent(in: moved, window: december, memberTimeZone: berlin))
        #expect(found.start == Fixture.utc("2026-12-05T14:00:00Z") && found.end == Fixture.utc("2026-12-05T14:45:00Z"))
        let cancelled = Fixture.calendar(Fixture.event(
            "UID:calsync-x", "DTSTART:20261205T090000Z", "DTEND:20261205T100000Z", "STATUS:CANCELLED", "X-CALSYNC-EXPORT:digest-1"))
        #expect(try ICalendar.exportedEvent(in: cancelled, window: december, memberTimeZone: berlin)?.cancelled == true)
    }

    /// Anybody else's event is not ours; broken text is an error, not a crash.
    @Test func othersAndBrokenText() throws {
        let theirs = Fixture.calendar(Fixture.event("UID:dentist", "DTSTART:20261205T090000Z", "DTEND:20261205T100000Z"))
        #expect(try ICalendar.exportedEvent(in: theirs, window: december, memberTimeZone: berlin) == nil)
        #expect(throws: ICalError.self) {
            try ICalendar.exportedEvent(in: "BEGIN:VCALENDAR\r\nX-CALSYNC-EXPORT", window: december, memberTimeZone: berlin)
        }
    }

    /// The cheap test before parsing finds the marker in any case and nowhere else.
    @Test func theMarkerTestFindsTheMarkerInAnyCase() {
        #expect(ICalendar.mentionsExportMarker("BEGIN:VEVENT\r\nX-CALSYNC-EXPORT:digest-1\r\nEND:VEVENT"))
        #expect(ICalendar.mentionsExportMarker("begin:vevent\r\nx-calsync-Export:digest-1\r\n"))
        #expect(ICalendar.mentionsExportMarker("X-CALSYNC-EXPORT"))
        #expect(!ICalendar.mentionsExportMarker("BEGIN:VEVENT\r\nX-CALSYNC-REVISION:4\r\nSUMMARY:X-CALSYNC_EXPORT\r\n"))
        #expect(!ICalendar.mentionsExportMarker("X-CALSYNC-EXPOR"))
        #expect(!ICalendar.mentionsExportMarker(""))
    }
}
