import CalsyncICal
import Foundation
import Testing

/// The text of an exported event: what it holds, what it never holds, and that it reads back.
@Suite struct RenderTests {
    let event = ICalExportEvent(
        uid: "calsync-m1-a1@calsync", sequence: 7, stamp: Fixture.utc("2026-12-01T08:00:00Z"),
        start: Fixture.local(2026, 3, 27, 10, in: "Europe/Berlin"), end: Fixture.local(2026, 3, 27, 11, in: "Europe/Berlin"),
        timeZone: "Europe/Berlin", summary: "Haircut; wash, cut & dry — Ärger über Überlänge " + String(repeating: "ü", count: 60),
        description: "Line one\nLine two, with a comma; and a semicolon\\ backslash", location: "Salon\r\nBerlin",
        classification: .private, markerValue: "a1"
    )

    /// The unfolded lines of a text.
    func lines(_ text: String) -> [String] {
        text.replacingOccurrences(of: "\r\n ", with: "").components(separatedBy: "\r\n")
    }

    /// DTSTART/DTEND carry the IANA TZID with its VTIMEZONE; UID, SEQUENCE, CLASS and the marker are written.
    @Test func holdsWhatAnExportNeeds() throws {
        let text = try ICalendar.render(event)
        let unfolded = lines(text)
        #expect(unfolded.contains("DTSTART;TZID=Europe/Berlin:20260327T100000"))
        #expect(unfolded.contains("DTEND;TZID=Europe/Berlin:20260327T110000"))
        #expect(unfolded.contains("BEGIN:VTIMEZONE"))
        #expect(unfolded.contains("TZID:Europe/Berlin"))
        #expect(unfolded.contains("UID:calsync-m1-a1@calsync"))
        #expect(unfolded.contains("SEQUENCE:7"))
        #expect(unfolded.contains("DTSTAMP:20261201T080000Z"))
        #expect(unfolded.contains("CLASS:PRIVATE"))
        #expect(unfolded.contains("X-CALSYNC-EXPORT:a1"))
        #expect(unfolded.contains("DESCRIPTION:Line one\\nLine two\\, with a comma\\; and a semicolon\\\\ backslash"))
        #expect(unfolded.contains("LOCATION:Salon\\nBerlin"))
        #expect(!text.contains("ATTENDEE") && !text.contains("ORGANIZER"))
        #expect(text.hasPrefix("BEGIN:VCALENDAR\r\n") && text.hasSuffix("END:VCALENDAR\r\n"))
    }

    /// libical folds lines at 75 octets without splitting a UTF-8 character.
    @Test func foldsLongLines() throws {
        let text = try ICalendar.render(event)
        for line in text.components(separatedBy: "\r\n") {
            #expect(line.utf8.count <= 75)
        }
        #expect(lines(text).contains { $0.hasPrefix("SUMMARY:Haircut\\; wash\\, cut & dry") && $0.hasSuffix(String(repeating: "ü", count: 60)) })
    }

    /// Render → parse gives the same instants and the identity back, and the import skips it as calsync's own.
    @Test func roundTrip() throws {
        let text = try ICalendar.render(event)
        let info = try ICalendar.inspect(text)
        #expect(info == ICalObjectInfo(uid: "calsync-m1-a1@calsync", sequence: 7, markerValue: "a1"))
        let window = Fixture.window("2026-03-01T00:00:00Z", "2026-04-30T00:00:00Z")
        #expect(try Fixture.busy(text, window).isEmpty)
        let foreign = text.replacingOccurrences(of: "X-CALSYNC-EXPORT:a1\r\n", with: "")
        let found = try Fixture.busy(foreign, window, zone: "UTC")
        #expect(found == [ICalBusyOccurrence(uid: "calsync-m1-a1@calsync", recurrenceID: nil, start: event.start, end: event.end, allDay: false)])
    }

    /// An event in New York after the November change reads back at the same instant.
    @Test func roundTripAcrossTheChange() throws {
        var later = event
        later.timeZone = "America/New_York"
        later.start = Fixture.local(2026, 11, 2, 9, in: "America/New_York")
        later.end = Fixture.local(2026, 11, 2, 9, 45, in: "America/New_York")
        later.markerValue = ""
        let text = try ICalendar.render(later).replacingOccurrences(of: "X-CALSYNC-EXPORT:\r\n", with: "")
        #expect(lines(text).contains("DTSTART;TZID=America/New_York:20261102T090000"))
        let found = try Fixture.busy(text, Fixture.window("2026-11-01T00:00:00Z", "2026-11-05T00:00:00Z"))
        #expect(found.map(\.start) == [Fixture.utc("2026-11-02T14:00:00Z")])
        #expect(found.map(\.end) == [Fixture.utc("2026-11-02T14:45:00Z")])
    }

    /// The VTIMEZONE written is right on its own: renamed so no builtin zone stands in, it still reads back the same instants.
    @Test func writtenTimeZoneIsSelfSufficient() throws {
        var later = event
        later.timeZone = "America/New_York"
        later.start = Fixture.local(2026, 11, 2, 9, in: "America/New_York")
        later.end = Fixture.local(2026, 11, 2, 10, in: "America/New_York")
        let text = try ICalendar.render(later)
            .replacingOccurrences(of: "America/New_York", with: "Custom Eastern")
            .replacingOccurrences(of: "X-CALSYNC-EXPORT:a1\r\n", with: "")
        let zoneLines = lines(text).drop { $0 != "BEGIN:VTIMEZONE" }.prefix { $0 != "END:VTIMEZONE" }
        #expect(zoneLines.count < 40, "a truncated VTIMEZONE, not 120 lines of history")
        let found = try Fixture.busy(text, Fixture.window("2026-11-01T00:00:00Z", "2026-11-05T00:00:00Z"), zone: "UTC")
        #expect(found.map(\.start) == [Fixture.utc("2026-11-02T14:00:00Z")])
    }

    /// A zone libical does not know is written in UTC, without VTIMEZONE.
    @Test func unknownZoneIsUTC() throws {
        var odd = event
        odd.timeZone = "Mars/Olympus_Mons"
        let text = try ICalendar.render(odd)
        #expect(lines(text).contains("DTSTART:20260327T090000Z"))
        #expect(!text.contains("VTIMEZONE"))
    }
}
