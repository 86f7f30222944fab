import CalsyncICal
import Foundation
import Testing

/// Hostile or broken text ends in a clear ``ICalError``, with bounded work, never a crash.
@Suite struct HostileInputTests {
    let window = Fixture.window("2026-12-01T00:00:00Z", "2027-03-01T00:00:00Z")

    /// The code of the error `text` throws, or nil when it throws none.
    func code(of text: String) -> ICalError.Code? {
        do {
            _ = try Fixture.busy(text, window)
            return nil
        } catch {
            #expect(!error.message.isEmpty)
            return error.code
        }
    }

    /// 10 MB of iCalendar is refused before libical reads it.
    @Test func tenMegabytes() {
        let line = "DESCRIPTION:" + String(repeating: "x", count: 1_000) + "\r\n"
        let text = Fixture.calendar(Fixture.event("UID:huge", "DTSTART:20261205T090000Z", String(repeating: line, count: 10_000)))
        #expect(text.utf8.count > 10_000_000)
        #expect(code(of: text) == .tooLarge)
    }

    /// Deep nesting is refused (libical frees components recursively).
    @Test func deepNesting() {
        let text = String(repeating: "BEGIN:VCALENDAR\r\n", count: 20_000) + String(repeating: "END:VCALENDAR\r\n", count: 20_000)
        #expect(code(of: text) == .tooDeep)
    }

    /// Very many components are refused.
    @Test func manyComponents() {
        let alarms = String(repeating: "BEGIN:VALARM\r\nACTION:DISPLAY\r\nEND:VALARM\r\n", count: 6_000)
        #expect(code(of: Fixture.calendar(Fixture.event("UID:alarms", "DTSTART:20261205T090000Z", alarms))) == .tooManyComponents)
    }

    /// Garbage, a NUL byte, an empty text and a non-calendar are not iCalendar.
    @Test func garbage() {
        #expect(code(of: "this is not a calendar\r\n\u{1}\u{2}\u{3}") == .notICalendar)
        #expect(code(of: "") == .notICalendar)
        #expect(code(of: Fixture.calendar(Fixture.event("UID:nul\u{0}", "DTSTART:20261205T090000Z"))) == .notICalendar)
        #expect(code(of: "BEGIN:VCARD\r\nFN:Anna\r\nEND:VCARD\r\n") == .notICalendar)
    }

    /// A VEVENT without DTSTART, or with a DTSTART that is no date, is malformed.
    @Test func missingOrBrokenStart() {
        #expect(code(of: Fixture.calendar(Fixture.event("UID:nostart", "SUMMARY:x"))) == .malformed)
        #expect(code(of: Fixture.calendar(Fixture.event("UID:badstart", "DTSTART:tomorrow"))) == .malformed)
    }

    /// A rule that never reaches the window within the step budget, or repeats every second, is refused.
    @Test func absurdRules() {
        let hourly = Fixture.calendar(Fixture.event("UID:hourly", "DTSTART:19900101T000000Z", "RRULE:FREQ=HOURLY;COUNT=100000000"))
        #expect(code(of: hourly) == .tooManyOccurrences)
        let secondly = Fixture.calendar(Fixture.event("UID:secondly", "DTSTART:20261205T000000Z", "RRULE:FREQ=SECONDLY"))
        #expect(code(of: secondly) == .unsupportedRecurrence)
        // libical drops an RRULE it cannot read (it leaves an X-LIC-ERROR): the event counts once.
        let noFrequency = Fixture.calendar(Fixture.event("UID:nofreq", "DTSTART:20261205T000000Z", "RRULE:COUNT=3"))
        #expect((try? Fixture.busy(noFrequency, window))?.map(\.recurrenceID) == [nil])
        // Hourly for a year: more busy occurrences than one object may yield.
        let hourlyForever = Fixture.calendar(Fixture.event("UID:hourly2", "DTSTART:20260101T000000Z", "RRULE:FREQ=HOURLY"))
        #expect((try? ICalendar.busyOccurrences(
            in: hourlyForever, window: Fixture.window("2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
            memberTimeZone: TimeZone(identifier: "UTC")!, memberAddresses: []
        )) == nil)
    }

    /// A TZID naming a path (or anything but a zone name) never reaches the file system; the time is read in the member's zone.
    @Test func pathLikeTZIDs() throws {
        for tzid in ["../../../../dev/stdin", "/etc/passwd", "Europe/../../../../dev/zero", String(repeating: "A/", count: 100)] {
            let text = Fixture.calendar(Fixture.event("UID:path", "DTSTART;TZID=\(tzid):20261205T090000", "DURATION:PT1H"))
            #expect(try Fixture.busy(text, window, zone: "UTC").map(\.start) == [Fixture.utc("2026-12-05T09:00:00Z")])
        }
    }

    /// Many threads at once parse and expand safely (libical runs behind one lock) and agree with a single-threaded run.
    @Test func concurrentCallers() async throws {
        let text = Fixture.calendar(Fixture.berlinTimeZone, Fixture.event(
            "UID:concurrent", "DTSTART;TZID=Europe/Berlin:20261201T100000", "DURATION:PT1H", "RRULE:FREQ=DAILY;COUNT=40"
        ))
        let window = self.window
        let expected = try Fixture.busy(text, window)
        let results = try await withThrowingTaskGroup(of: [ICalBusyOccurrence].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    try await Fixture.onOwnThread {
                        var last: [ICalBusyOccurrence] = []
                        for _ in 0..<50 { last = try Fixture.busy(text, window) }
                        return last
                    }
                }
            }
            var all: [[ICalBusyOccurrence]] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(results.count == 4)
        #expect(results.allSatisfy { $0 == expected })
        #expect(expected.count == 40)
    }

    /// Every prefix of a valid object, and random bytes, end in a result or an ICalError (the test would crash otherwise).
    @Test func truncationsAndRandomBytes() {
        let valid = Fixture.calendar(
            Fixture.berlinTimeZone,
            Fixture.event(
                "UID:cut", "DTSTART;TZID=Europe/Berlin:20261205T100000", "DTEND;TZID=Europe/Berlin:20261205T110000",
                "RRULE:FREQ=WEEKLY;BYDAY=SA;UNTIL=20270101T000000Z", "EXDATE;TZID=Europe/Berlin:20261212T100000",
                "ATTENDEE;PARTSTAT=DECLINED;CN=\"A, B\":mailto:x@example.com"
            ),
            Fixture.event("UID:cut", "RECURRENCE-ID;TZID=Europe/Berlin:20261219T100000", "DTSTART:20261219T150000Z")
        )
        let bytes = Array(valid.utf8)
        for length in stride(from: 0, through: bytes.count, by: 7) {
            _ = code(of: String(decoding: bytes[0..<length], as: UTF8.self))
        }
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<50 {
            let noise = (0..<2_000).map { _ in UInt8.random(in: 1...255, using: &generator) }
            _ = code(of: "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n" + String(decoding: noise, as: UTF8.self))
        }
    }
}
