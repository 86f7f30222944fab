import CalsyncICal
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Helpers of the iCalendar tests: instants from local wall-clock times, calendar text, windows.
enum Fixture {
    /// The instant of a wall-clock time in an IANA zone, computed by Foundation (the tests' independent oracle).
    static func local(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, in zone: String) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone)!
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute))!
    }

    /// The wall-clock hour and minute of an instant in a zone.
    static func clock(_ date: Date, in zone: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: zone)!
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return String(format: "%02d:%02d", parts.hour!, parts.minute!)
    }

    /// A VCALENDAR around components, with CRLF line ends.
    static func calendar(_ components: String...) -> String {
        (["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//test//EN"] + components + ["END:VCALENDAR"])
            .joined(separator: "\r\n") + "\r\n"
    }

    /// A VEVENT of the given property lines.
    static func event(_ lines: String...) -> String {
        (["BEGIN:VEVENT"] + lines + ["END:VEVENT"]).joined(separator: "\r\n")
    }

    /// A window from `start` to `end` (UTC dates).
    static func window(_ start: String, _ end: String) -> DateInterval {
        DateInterval(start: utc(start), end: utc(end))
    }

    /// An RFC 3339 UTC instant.
    static func utc(_ text: String) -> Date {
        ISO8601DateFormatter().date(from: text)!
    }

    /// Busy occurrences with the defaults the tests share.
    static func busy(
        _ text: String, _ window: DateInterval, zone: String = "Europe/Berlin", addresses: [String] = ["anna@example.com"]
    ) throws(ICalError) -> [ICalBusyOccurrence] {
        try ICalendar.busyOccurrences(
            in: text, window: window, memberTimeZone: TimeZone(identifier: zone)!, memberAddresses: addresses
        )
    }

    /// Europe/Berlin's VTIMEZONE as clients send it.
    static let berlinTimeZone = """
        BEGIN:VTIMEZONE\r
        TZID:Europe/Berlin\r
        BEGIN:DAYLIGHT\r
        TZOFFSETFROM:+0100\r
        TZOFFSETTO:+0200\r
        TZNAME:CEST\r
        DTSTART:19700329T020000\r
        RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
        END:DAYLIGHT\r
        BEGIN:STANDARD\r
        TZOFFSETFROM:+0200\r
        TZOFFSETTO:+0100\r
        TZNAME:CET\r
        DTSTART:19701025T030000\r
        RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
        END:STANDARD\r
        END:VTIMEZONE
        """

    /// Runs `body` on a thread of its own, off Swift's cooperative pool (CPU-bound work and libical's lock would hold
    /// one of its few threads and starve the other suites running in parallel).
    static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.start()
        }
    }

    /// CPU seconds the calling thread has used (unlike wall time, not stretched by other processes on a loaded machine).
    static func threadCPUSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
