import CalsyncJobs
import Foundation

/// Conversions between provider time strings and instants, on CalsyncJobs' `RFC3339`.
package enum ProviderTime {
    /// Parses RFC 3339 (`2026-11-23T14:00:00Z`, `…+09:00`, fractional seconds). A string without an
    /// offset (Graph's `2026-11-23T14:00:00.0000000`) is read in `assumeOffsetSeconds`.
    package static func parseDateTime(_ text: String, assumeOffsetSeconds: Int = 0) -> Date? {
        RFC3339.parse(text, assumeOffsetSeconds: assumeOffsetSeconds)
    }

    /// Parses a calendar date `YYYY-MM-DD` into its components.
    package static func parseDate(_ text: String) -> (year: Int, month: Int, day: Int)? {
        let utf8 = Array(text.utf8.prefix(10))
        guard utf8.count == 10, utf8[4] == 45, utf8[7] == 45 else { return nil }
        var parts: [Int] = []
        for range in [0..<4, 5..<7, 8..<10] {
            var value = 0
            for i in range {
                guard utf8[i] >= 48, utf8[i] <= 57 else { return nil }
                value = value * 10 + Int(utf8[i] - 48)
            }
            parts.append(value)
        }
        guard (1...12).contains(parts[1]), (1...RFC3339.daysIn(month: parts[1], year: parts[0])).contains(parts[2]) else { return nil }
        return (parts[0], parts[1], parts[2])
    }

    /// Midnight at the start of calendar date `YYYY-MM-DD` in `timeZone`, as an instant.
    package static func startOfDay(_ text: String, in calendar: Calendar) -> Date? {
        guard let (year, month, day) = parseDate(text) else { return nil }
        var components = DateComponents()
        components.year = year
        components.month = month
        components.day = day
        components.hour = 0
        guard let date = calendar.date(from: components) else { return nil }
        // A day that starts with a DST gap has no midnight: Foundation gives the first instant of the day.
        return date
    }

    /// A Gregorian calendar in `timeZone`, for ``startOfDay(_:in:)``.
    package static func calendar(in timeZone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    /// `2026-11-23T14:00:00Z` (whole seconds, UTC).
    package static func formatRFC3339(_ date: Date) -> String {
        RFC3339.formatSeconds(date)
    }

    /// `2026-11-23T14:00:00.0000000` (UTC, no offset), as Microsoft Graph wants it.
    package static func formatGraph(_ date: Date) -> String {
        RFC3339.formatWall(date) + ".0000000"
    }
}
