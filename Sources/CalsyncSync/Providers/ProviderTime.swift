import Foundation

/// Fast, allocation-light conversions between provider time strings and instants.
public enum ProviderTime {
    /// Parses RFC 3339 (`2026-11-23T14:00:00Z`, `…+09:00`, fractional seconds). A string without an
    /// offset (Graph's `2026-11-23T14:00:00.0000000`) is read in `assumeOffsetSeconds`.
    public static func parseDateTime(_ text: String, assumeOffsetSeconds: Int = 0) -> Date? {
        let utf8 = Array(text.utf8)
        if utf8.count < 19 { return nil }
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= utf8.count else { return nil }
            var value = 0
            for i in from..<(from + count) {
                let c = utf8[i]
                guard c >= 48, c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
            }
            return value
        }
        guard let year = number(0, 4), utf8[4] == 45, let month = number(5, 2), utf8[7] == 45,
            let day = number(8, 2), utf8[10] == 84 || utf8[10] == 116 || utf8[10] == 32,
            let hour = number(11, 2), utf8[13] == 58, let minute = number(14, 2), utf8[16] == 58,
            let second = number(17, 2),
            (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day), hour < 24, minute < 60,
            second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < utf8.count, utf8[index] == 46 {
            index += 1
            let firstDigit = index
            var scale = 0.1
            while index < utf8.count, utf8[index] >= 48, utf8[index] <= 57 {
                fraction += Double(utf8[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > firstDigit else { return nil }  // "14:00:00.Z"
        }
        var offset = assumeOffsetSeconds
        if index < utf8.count {
            let c = utf8[index]
            if c == 90 || c == 122 {  // Z
                offset = 0
                index += 1
            } else if c == 43 || c == 45 {  // + -
                guard let oh = number(index + 1, 2), index + 3 < utf8.count, utf8[index + 3] == 58,
                    let om = number(index + 4, 2)
                else { return nil }
                offset = (oh * 3600 + om * 60) * (c == 45 ? -1 : 1)
                index += 6
            } else {
                return nil
            }
        }
        guard index == utf8.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// The number of days of a month (Gregorian).
    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Parses a calendar date `YYYY-MM-DD` into its components.
    public static func parseDate(_ text: String) -> (year: Int, month: Int, day: Int)? {
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
        guard (1...12).contains(parts[1]), (1...daysIn(month: parts[1], year: parts[0])).contains(parts[2]) else { return nil }
        return (parts[0], parts[1], parts[2])
    }

    /// Midnight at the start of calendar date `YYYY-MM-DD` in `timeZone`, as an instant.
    public static func startOfDay(_ text: String, in calendar: Calendar) -> Date? {
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
    public static func calendar(in timeZone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }

    /// `2026-11-23T14:00:00Z` (whole seconds, UTC).
    public static func formatRFC3339(_ date: Date) -> String {
        let (d, t) = civil(date)
        return "\(d)T\(t)Z"
    }

    /// `2026-11-23T14:00:00.0000000` (UTC, no offset), as Microsoft Graph wants it.
    public static func formatGraph(_ date: Date) -> String {
        let (d, t) = civil(date)
        return "\(d)T\(t).0000000"
    }

    private static func civil(_ date: Date) -> (String, String) {
        let total = Int(date.timeIntervalSince1970.rounded(.down))
        var days = total / 86_400
        var rest = total % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        let (y, m, d) = civilFromDays(days)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return (
            "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))",
            "\(pad(rest / 3600, 2)):\(pad(rest % 3600 / 60, 2)):\(pad(rest % 60, 2))"
        )
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
