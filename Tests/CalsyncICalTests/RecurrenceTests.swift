import CalsyncICal
import Foundation
import Testing

/// Recurring events expanded by calsync in the event's own zone: RRULE, RDATE, EXDATE, overrides, across DST.
@Suite struct RecurrenceTests {
    /// Weekly 10:00 in Berlin over the March change: an EXDATE, a moved and a cancelled instance; 10:00 local stays.
    @Test func weeklyBerlinAcrossMarchChange() throws {
        let text = Fixture.calendar(
            Fixture.berlinTimeZone,
            Fixture.event(
                "UID:weekly-berlin", "DTSTAMP:20260101T000000Z", "SUMMARY:Team",
                "DTSTART;TZID=Europe/Berlin:20260305T100000", "DTEND;TZID=Europe/Berlin:20260305T110000",
                "RRULE:FREQ=WEEKLY;COUNT=8", "EXDATE;TZID=Europe/Berlin:20260312T100000"
            ),
            Fixture.event(
                "UID:weekly-berlin", "DTSTAMP:20260101T000000Z", "RECURRENCE-ID;TZID=Europe/Berlin:20260319T100000",
                "DTSTART;TZID=Europe/Berlin:20260319T140000", "DTEND;TZID=Europe/Berlin:20260319T153000"
            ),
            Fixture.event(
                "UID:weekly-berlin", "DTSTAMP:20260101T000000Z", "RECURRENCE-ID;TZID=Europe/Berlin:20260326T100000",
                "DTSTART;TZID=Europe/Berlin:20260326T100000", "DTEND;TZID=Europe/Berlin:20260326T110000", "STATUS:CANCELLED"
            )
        )
        let found = try Fixture.busy(text, Fixture.window("2026-03-01T00:00:00Z", "2026-05-01T00:00:00Z"))
        let zone = "Europe/Berlin"
        #expect(found.map(\.start) == [
            Fixture.local(2026, 3, 5, 10, in: zone), Fixture.local(2026, 3, 19, 14, in: zone),
            Fixture.local(2026, 4, 2, 10, in: zone), Fixture.local(2026, 4, 9, 10, in: zone),
            Fixture.local(2026, 4, 16, 10, in: zone), Fixture.local(2026, 4, 23, 10, in: zone),
        ])
        #expect(found[0].start == Fixture.utc("2026-03-05T09:00:00Z"))
        #expect(found[2].start == Fixture.utc("2026-04-02T08:00:00Z"))
        #expect(found[1].end == Fixture.local(2026, 3, 19, 15, 30, in: zone))
        #expect(found.allSatisfy { $0.end.timeIntervalSince($0.start) == ($0.recurrenceID == "20260319T090000Z" ? 5400 : 3600) })
        #expect(found.map(\.recurrenceID) == [
            "20260305T090000Z", "20260319T090000Z", "20260402T080000Z", "20260409T080000Z", "20260416T080000Z", "20260423T080000Z",
        ])
        #expect(Set(found.map(\.instanceID)).count == found.count)
        #expect(found.allSatisfy { $0.uid == "weekly-berlin" && !$0.allDay })
    }

    /// Weekly Monday 09:00 in New York since 2025 (no COUNT: libical jumps to the window) over the November change.
    @Test func weeklyNewYorkAcrossNovemberChange() throws {
        let text = Fixture.calendar(
            Fixture.event(
                "UID:weekly-ny", "DTSTAMP:20250101T000000Z",
                "DTSTART;TZID=America/New_York:20250106T090000", "DTEND;TZID=America/New_York:20250106T093000",
                "RRULE:FREQ=WEEKLY;BYDAY=MO", "EXDATE;TZID=America/New_York:20261019T090000"
            ),
            Fixture.event(
                "UID:weekly-ny", "RECURRENCE-ID;TZID=America/New_York:20261026T090000",
                "DTSTART;TZID=America/New_York:20261027T160000", "DTEND;TZID=America/New_York:20261027T163000"
            ),
            Fixture.event(
                "UID:weekly-ny", "RECURRENCE-ID:20261109T140000Z", "STATUS:CANCELLED",
                "DTSTART;TZID=America/New_York:20261109T090000", "DTEND;TZID=America/New_York:20261109T093000"
            )
        )
        let zone = "America/New_York"
        let found = try Fixture.busy(text, Fixture.window("2026-10-10T00:00:00Z", "2026-11-20T00:00:00Z"), zone: "Europe/Berlin")
        #expect(found.map(\.start) == [
            Fixture.local(2026, 10, 12, 9, in: zone), Fixture.local(2026, 10, 27, 16, in: zone),
            Fixture.local(2026, 11, 2, 9, in: zone), Fixture.local(2026, 11, 16, 9, in: zone),
        ])
        #expect(found[0].start == Fixture.utc("2026-10-12T13:00:00Z"))
        #expect(found[2].start == Fixture.utc("2026-11-02T14:00:00Z"))
        #expect(found.allSatisfy { $0.end.timeIntervalSince($0.start) == 1800 })
        #expect(found[1].recurrenceID == "20261026T130000Z")
    }

    /// Monday, Wednesday and Friday at 10:00 since 2020: every instance of a month in 2026 at 10:00 local, none missing.
    @Test func longRunningRuleJumpsToTheWindowWithoutLosingInstances() throws {
        let text = Fixture.calendar(Fixture.event(
            "UID:mwf", "DTSTART;TZID=Europe/Berlin:20200106T100000", "DURATION:PT1H", "RRULE:FREQ=WEEKLY;BYDAY=MO,WE,FR"
        ))
        let found = try Fixture.busy(text, Fixture.window("2026-03-01T00:00:00Z", "2026-04-30T22:00:00Z"))
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Europe/Berlin")!
        var expected: [Date] = []
        var day = Fixture.local(2026, 3, 1, 10, in: "Europe/Berlin")
        while day < Fixture.utc("2026-04-30T22:00:00Z") {
            if [2, 4, 6].contains(calendar.component(.weekday, from: day)) { expected.append(day) }
            day = calendar.date(byAdding: .day, value: 1, to: day)!
        }
        #expect(found.map(\.start) == expected)
        #expect(found.allSatisfy { Fixture.clock($0.start, in: "Europe/Berlin") == "10:00" })
    }

    /// RDATE adds instances (a date-time, and a period with its own length) to an RRULE's.
    @Test func rdateAddsInstances() throws {
        let text = Fixture.calendar(Fixture.event(
            "UID:rdate", "DTSTART;TZID=Europe/Berlin:20261201T080000", "DTEND;TZID=Europe/Berlin:20261201T090000",
            "RRULE:FREQ=DAILY;COUNT=2", "RDATE;TZID=Europe/Berlin:20261210T120000,20261211T120000",
            "RDATE;VALUE=PERIOD:20261215T100000Z/20261215T130000Z"
        ))
        let found = try Fixture.busy(text, Fixture.window("2026-11-30T00:00:00Z", "2027-01-01T00:00:00Z"))
        #expect(found.map(\.start) == [
            Fixture.utc("2026-12-01T07:00:00Z"), Fixture.utc("2026-12-02T07:00:00Z"),
            Fixture.utc("2026-12-10T11:00:00Z"), Fixture.utc("2026-12-11T11:00:00Z"), Fixture.utc("2026-12-15T10:00:00Z"),
        ])
        #expect(found.last?.end == Fixture.utc("2026-12-15T13:00:00Z"))
        #expect(found[3].end == Fixture.utc("2026-12-11T12:00:00Z"))
    }

    /// UNTIL in UTC ends the series at that instant; a date UNTIL on a timed event includes its day.
    @Test func untilForms() throws {
        let window = Fixture.window("2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z")
        let utc = Fixture.calendar(Fixture.event(
            "UID:until-utc", "DTSTART;TZID=Europe/Berlin:20261201T100000", "DURATION:PT1H", "RRULE:FREQ=DAILY;UNTIL=20261203T090000Z"
        ))
        #expect(try Fixture.busy(utc, window).count == 3)
        let date = Fixture.calendar(Fixture.event(
            "UID:until-date", "DTSTART;TZID=Europe/Berlin:20261201T100000", "DURATION:PT1H", "RRULE:FREQ=DAILY;UNTIL=20261203"
        ))
        #expect(try Fixture.busy(date, window).count == 3)
    }

    /// A recurring all-day event: each instance midnight to midnight in the member's zone; a date EXDATE removes one.
    @Test func recurringAllDay() throws {
        let text = Fixture.calendar(Fixture.event(
            "UID:allday-weekly", "DTSTART;VALUE=DATE:20261023", "DTEND;VALUE=DATE:20261024", "RRULE:FREQ=WEEKLY;COUNT=3",
            "EXDATE;VALUE=DATE:20261030"
        ))
        let found = try Fixture.busy(text, Fixture.window("2026-10-01T00:00:00Z", "2026-12-01T00:00:00Z"))
        #expect(found.map(\.start) == [Fixture.local(2026, 10, 23, in: "Europe/Berlin"), Fixture.local(2026, 11, 6, in: "Europe/Berlin")])
        #expect(found.map(\.recurrenceID) == ["20261023", "20261106"])
        #expect(found.allSatisfy { $0.allDay && $0.end.timeIntervalSince($0.start) == 86_400 })
    }

    /// An instance moved into the window from outside counts; one moved out of it does not.
    @Test func overridesMoveInstancesInAndOutOfTheWindow() throws {
        let text = Fixture.calendar(
            Fixture.event("UID:move", "DTSTART:20261201T100000Z", "DTEND:20261201T110000Z", "RRULE:FREQ=DAILY;COUNT=10"),
            Fixture.event("UID:move", "RECURRENCE-ID:20261203T100000Z", "DTSTART:20261220T100000Z", "DTEND:20261220T110000Z"),
            Fixture.event("UID:move", "RECURRENCE-ID:20261209T100000Z", "DTSTART:20261205T150000Z", "DTEND:20261205T160000Z")
        )
        let found = try Fixture.busy(text, Fixture.window("2026-12-04T00:00:00Z", "2026-12-06T00:00:00Z"))
        #expect(found.map(\.start) == [
            Fixture.utc("2026-12-04T10:00:00Z"), Fixture.utc("2026-12-05T10:00:00Z"), Fixture.utc("2026-12-05T15:00:00Z"),
        ])
        #expect(found[2].recurrenceID == "20261209T100000Z")
    }

    /// RANGE=THISANDFUTURE: from that instance on, the series moves by the override's shift and takes its length.
    @Test func thisAndFutureOverride() throws {
        let text = Fixture.calendar(
            Fixture.event("UID:future", "DTSTART:20261201T100000Z", "DTEND:20261201T110000Z", "RRULE:FREQ=DAILY;COUNT=5"),
            Fixture.event(
                "UID:future", "RECURRENCE-ID;RANGE=THISANDFUTURE:20261203T100000Z", "DTSTART:20261203T120000Z",
                "DTEND:20261203T123000Z"
            )
        )
        let found = try Fixture.busy(text, Fixture.window("2026-12-01T00:00:00Z", "2026-12-10T00:00:00Z"))
        #expect(found.map(\.start) == [
            Fixture.utc("2026-12-01T10:00:00Z"), Fixture.utc("2026-12-02T10:00:00Z"), Fixture.utc("2026-12-03T12:00:00Z"),
            Fixture.utc("2026-12-04T12:00:00Z"), Fixture.utc("2026-12-05T12:00:00Z"),
        ])
        #expect(found.map { $0.end.timeIntervalSince($0.start) } == [3600, 3600, 1800, 1800, 1800])
        #expect(found.map(\.recurrenceID) == [
            "20261201T100000Z", "20261202T100000Z", "20261203T100000Z", "20261204T100000Z", "20261205T100000Z",
        ])
    }

    /// A zone known only from the object's VTIMEZONE (an Outlook name) is honoured, daylight saving included.
    @Test func vtimezoneOfTheObjectIsHonoured() throws {
        let zone = Fixture.berlinTimeZone.replacingOccurrences(of: "TZID:Europe/Berlin", with: "TZID:W. Europe Standard Time")
        let text = Fixture.calendar(zone, Fixture.event(
            "UID:outlook", "DTSTART;TZID=W. Europe Standard Time:20260320T100000",
            "DTEND;TZID=W. Europe Standard Time:20260320T110000", "RRULE:FREQ=WEEKLY;COUNT=3"
        ))
        let found = try Fixture.busy(text, Fixture.window("2026-03-01T00:00:00Z", "2026-04-30T00:00:00Z"), zone: "UTC")
        #expect(found.map(\.start) == [
            Fixture.utc("2026-03-20T09:00:00Z"), Fixture.utc("2026-03-27T09:00:00Z"), Fixture.utc("2026-04-03T08:00:00Z"),
        ])
    }
}

/// A provider's series (Google `recurrence` lines) expanded without an iCalendar object.
@Suite struct SeriesInstanceTests {
    /// Weekly 10:00 New York with an EXDATE across the March 2027 change: the same wall-clock time, ids in UTC.
    @Test func weeklyWithExdate() throws {
        let zone = "America/New_York"
        let found = try ICalendar.seriesInstances(
            start: Fixture.local(2027, 3, 2, 10, in: zone), end: Fixture.local(2027, 3, 2, 11, in: zone), timeZone: zone,
            allDay: false, recurrence: ["RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=America/New_York:20270309T100000"],
            window: Fixture.window("2027-03-01T00:00:00Z", "2027-04-01T00:00:00Z")
        )
        #expect(found.map(\.start) == [
            Fixture.local(2027, 3, 2, 10, in: zone), Fixture.local(2027, 3, 16, 10, in: zone), Fixture.local(2027, 3, 23, 10, in: zone),
        ])
        #expect(found.map(\.recurrenceID) == ["20270302T150000Z", "20270316T140000Z", "20270323T140000Z"])
        #expect(throws: ICalError.self) {
            try ICalendar.seriesInstances(
                start: Date(), end: Date(), timeZone: zone, allDay: false, recurrence: ["SUMMARY:x"],
                window: Fixture.window("2027-03-01T00:00:00Z", "2027-04-01T00:00:00Z")
            )
        }
    }
}
