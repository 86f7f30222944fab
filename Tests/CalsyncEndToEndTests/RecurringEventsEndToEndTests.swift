import CalsyncSandbox
import Foundation
import PostgresNIO
import Testing

/// Contract §6 (recurring events, all providers) through the real worker and the sandbox: a series becomes one busy
/// block per instance, in the event's own zone, and later changes to one instance or to the series land on the right blocks.
@Suite("Recurring events end to end")
struct RecurringEventsEndToEndTests {
    static let providers: [SandboxProvider] = [.google, .microsoft]
    static let zone = "Europe/Berlin"

    /// A Gregorian calendar in Berlin.
    static var berlinCalendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone)!
        return calendar
    }

    /// The instant of a Berlin wall-clock time in 2027.
    static func berlin(_ month: Int, _ day: Int, _ hour: Int) -> Date {
        berlinCalendar.date(from: DateComponents(year: 2027, month: month, day: day, hour: hour))!
    }

    /// The recurrence id (`yyyyMMdd'T'HHmmss'Z'`) of an original start.
    static func recurrenceID(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    @Test("a weekly series across the March change (EXDATE, cancelled and moved instances) is one block per instance at 10:00 local", arguments: providers)
    func seriesAcrossTheChange(provider: SandboxProvider) async throws {
        try await SyncWorld.withConnectedMember(provider, timeZone: Self.zone) { world, account in
            var first = SandboxEvent(summary: "Weekly", start: Self.berlin(3, 9, 10), end: Self.berlin(3, 9, 11))
            first.timeZone = Self.zone
            let series = world.sandbox.insertRecurringEvent(
                provider, email: account.email, calendarID: account.primaryCalendarID, first,
                recurrence: ["RRULE:FREQ=WEEKLY;COUNT=6", "EXDATE;TZID=Europe/Berlin:20270316T100000"])
            world.sandbox.changeInstance(provider, email: account.email, calendarID: account.primaryCalendarID, seriesID: series,
                                         recurrenceID: Self.recurrenceID(Self.berlin(3, 23, 10)), .cancel)
            world.sandbox.changeInstance(provider, email: account.email, calendarID: account.primaryCalendarID, seriesID: series,
                                         recurrenceID: Self.recurrenceID(Self.berlin(3, 30, 10)),
                                         .move(start: Self.berlin(3, 30, 15), end: Self.berlin(3, 30, 16)))
            try await world.enqueue(
                "import_window", #"{"member_id":"m-1","window_start":"2027-03-01T00:00:00Z","window_end":"2027-05-01T00:00:00Z"}"#)
            try await world.idle()
            let busy = try await world.visibleBusy("m-1")
            #expect(busy.map(\.start) == [Self.berlin(3, 9, 10), Self.berlin(3, 30, 15), Self.berlin(4, 6, 10), Self.berlin(4, 13, 10)])
            #expect(busy.map(\.duration) == [3600, 3600, 3600, 3600])
            #expect(try await world.storedBlocks("m-1") == 4)
        }
    }

    @Test("a cancelled instance, then a moved series, arrive by incremental imports and change exactly their blocks", arguments: providers)
    func incrementalChanges(provider: SandboxProvider) async throws {
        try await SyncWorld.withConnectedMember(provider, timeZone: Self.zone) { world, account in
            let calendar = Self.berlinCalendar
            let tomorrow = calendar.date(byAdding: .day, value: 1, to: Date())!
            let day = calendar.dateComponents([.year, .month, .day], from: tomorrow)
            func at(_ offset: Int, _ hour: Int) -> Date {
                calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day! + offset, hour: hour))!
            }
            var first = SandboxEvent(summary: "Daily", start: at(0, 10), end: at(0, 11))
            first.timeZone = Self.zone
            let series = world.sandbox.insertRecurringEvent(
                provider, email: account.email, calendarID: account.primaryCalendarID, first, recurrence: ["RRULE:FREQ=DAILY;COUNT=5"])
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.idle()
            #expect(try await world.visibleBusy("m-1").map(\.start) == (0..<5).map { at($0, 10) })

            world.sandbox.changeInstance(provider, email: account.email, calendarID: account.primaryCalendarID, seriesID: series,
                                         recurrenceID: Self.recurrenceID(at(2, 10)), .cancel)
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.idle()
            #expect(try await world.visibleBusy("m-1").map(\.start) == [0, 1, 3, 4].map { at($0, 10) })

            world.sandbox.updateEvent(provider, email: account.email, calendarID: account.primaryCalendarID, eventID: series) { event in
                event.start = at(0, 11)
                event.end = at(0, 12)
            }
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.idle()
            #expect(try await world.visibleBusy("m-1").map(\.start) == (0..<5).map { at($0, 11) }, "no block is left at 10:00")
            #expect(try await world.storedBlocks("m-1") == 5)
        }
    }
}
