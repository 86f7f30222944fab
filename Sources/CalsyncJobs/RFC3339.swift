import Foundation

/// The one RFC 3339 parser and formatter of calsync (job envelopes, payloads, dead records, provider
/// times): strict, allocation-light, UTC out.
package enum RFC3339 {
    /// Parses `YYYY-MM-DD(T|t| )HH:MM:SS[.frac](Z|z|±HH:MM)`; nil when malformed. A time without an offset
    /// (Graph's `2026-11-23T14:00:00.0000000`) is read at `assumeOffsetSeconds` when given, else refused.
    /// A leap second (`:60`) reads as `:59`.
    package static func parse(_ b: [UInt8], assumeOffsetSeconds: Int? = nil) -> Date? {
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var value = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 48, c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
            }
            i += n
            return value
        }
        func expect(_ chars: String) -> Bool {
            guard i < b.count, chars.utf8.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
            expect("Tt "), let hour = digits(2), expect(":"), let minute = digits(2), expect(":"), let second = digits(2)
        else { return nil }
        guard (1...12).contains(month), hour <= 23, minute <= 59, second <= 60 else { return nil }
        guard day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        var fraction = 0.0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            var count = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
                count += 1
            }
            guard count > 0 else { return nil }
        }
        var offsetSeconds = 0
        if i == b.count, let assumeOffsetSeconds {
            offsetSeconds = assumeOffsetSeconds
        } else {
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
                i += 1
            } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
                let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
                i += 1
                guard let oh = digits(2), expect(":"), let om = digits(2), oh <= 23, om <= 59 else { return nil }
                offsetSeconds = sign * (oh * 3600 + om * 60)
            } else {
                return nil
            }
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86400 + hour * 3600 + minute * 60 + min(second, 59) - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// Parses text; see ``parse(_:assumeOffsetSeconds:)-([UInt8],_)``.
    package static func parse(_ text: String, assumeOffsetSeconds: Int? = nil) -> Date? {
        parse(Array(text.utf8), assumeOffsetSeconds: assumeOffsetSeconds)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (whole seconds, rounded down, UTC).
    package static func formatSeconds(_ date: Date) -> String {
        formatWall(date) + "Z"
    }

    /// `YYYY-MM-DDTHH:MM:SS` of the UTC reading, without an offset (whole seconds, rounded down).
    package static func formatWall(_ date: Date) -> String {
        let total = Int64(date.timeIntervalSince1970.rounded(.down))
        let sod = Int((total % 86400 + 86400) % 86400)
        let (year, month, day) = civilFromDays(Int((total - Int64(sod)) / 86400))
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(sod / 3600, 2)):\(pad(sod / 60 % 60, 2)):\(pad(sod % 60, 2))"
    }

    /// The number of days of a month (proleptic Gregorian).
    package static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    package static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The proleptic Gregorian date of a number of days since 1970-01-01.
    package static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func pad(_ v: Int, _ n: Int) -> String {
        let s = String(v)
        return s.count >= n ? s : String(repeating: "0", count: n - s.count) + s
    }

    /// Formats a date as `YYYY-MM-DDTHH:MM:SS.mmmZ` (milliseconds rounded down, UTC).
    package static func format(_ date: Date) -> String {
        let totalMs = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let ms = Int(((totalMs % 1000) + 1000) % 1000)
        let seconds = Date(timeIntervalSince1970: Double((totalMs - Int64(ms)) / 1000))
        return "\(formatWall(seconds)).\(pad(ms, 3))Z"
    }
}
