import Foundation

/// Parses the `Retry-After` header: delta-seconds or an HTTP date (RFC 9110).
package enum RetryAfter {
    /// The wait the header asks for, or nil when it is absent or invalid; a date in the past is zero.
    package static func parse(_ value: String, now: Date = Date()) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed) {
            return seconds >= 0 ? .seconds(min(seconds, 86_400 * 7)) : nil
        }
        guard let date = parseHTTPDate(trimmed) else { return nil }
        let delta = date.timeIntervalSince(now)
        return .milliseconds(Int64(max(0, min(delta, 86_400 * 7)) * 1000))
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) or RFC 850 date (`Sunday, 06-Nov-94 08:49:37 GMT`).
    package static func parseHTTPDate(_ text: String) -> Date? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
        var day: Int?
        var month: Int?
        var year: Int?
        var time: [Int]?
        if parts.count >= 5, let d = Int(parts[1]) {  // IMF-fixdate
            day = d
            month = months.firstIndex(of: parts[2].lowercased()).map { $0 + 1 }
            year = Int(parts[3])
            time = parts[4].split(separator: ":").compactMap { Int($0) }
        } else if parts.count >= 3 {  // RFC 850
            let dmy = parts[1].split(separator: "-")
            if dmy.count == 3 {
                day = Int(dmy[0])
                month = months.firstIndex(of: dmy[1].lowercased()).map { $0 + 1 }
                year = Int(dmy[2]).map { $0 < 100 ? ($0 < 70 ? 2000 + $0 : 1900 + $0) : $0 }
                time = parts[2].split(separator: ":").compactMap { Int($0) }
            }
        }
        guard let day, let month, let year, let time, time.count == 3, (1...31).contains(day) else { return nil }
        var components = DateComponents()
        components.year = year
        components.month = month
        components.day = day
        components.hour = time[0]
        components.minute = time[1]
        components.second = time[2]
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "GMT") ?? .current
        return calendar.date(from: components)
    }
}
