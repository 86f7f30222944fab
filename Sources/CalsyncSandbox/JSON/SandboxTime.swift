import Foundation

/// Fast, allocation-light parsing and formatting of the timestamps the providers use.
enum SandboxTime {
    /// A parsed `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]`.
    struct Parsed {
        /// Seconds since 1970 of the wall-clock reading taken as UTC.
        var wallSeconds: Double
        /// The offset in seconds when the text carried one (`Z` = 0).
        var offset: Int?
        /// The instant, when an offset was present.
        var instant: Double? { offset.map { wallSeconds - Double($0) } }
    }

    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }

    private static func digits(_ b: ArraySlice<UInt8>) -> Int? {
        var v = 0
        for c in b {
            guard c >= 48, c <= 57 else { return nil }
            v = v * 10 + Int(c - 48)
        }
        return b.isEmpty ? nil : v
    }

    /// Parses `YYYY-MM-DD` into days since 1970-01-01.
    static func parseDate(_ s: String) -> Int? {
        let b = Array(s.utf8)
        guard b.count == 10, b[4] == 45, b[7] == 45,
            let y = digits(b[0..<4]), let m = digits(b[5..<7]), let d = digits(b[8..<10]),
            (1...12).contains(m), (1...31).contains(d)
        else { return nil }
        return daysFromCivil(y, m, d)
    }

    /// Parses an RFC 3339 / ISO 8601 date-time with optional fraction and offset.
    static func parseDateTime(_ s: String) -> Parsed? {
        let b = Array(s.utf8)
        guard b.count >= 19, b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116, b[13] == 58, b[16] == 58,
            let y = digits(b[0..<4]), let mo = digits(b[5..<7]), let d = digits(b[8..<10]),
            let h = digits(b[11..<13]), let mi = digits(b[14..<16]), let se = digits(b[17..<19]),
            (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, se < 61
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == 46 {
            i += 1
            var scale = 0.1
            let startFraction = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            if i == startFraction { return nil }
        }
        var offset: Int?
        if i < b.count {
            if b[i] == 90 || b[i] == 122, i + 1 == b.count {
                offset = 0
            } else if b[i] == 43 || b[i] == 45, b.count == i + 6, b[i + 3] == 58,
                let oh = digits(b[(i + 1)..<(i + 3)]), let om = digits(b[(i + 4)..<(i + 6)])
            {
                offset = (b[i] == 45 ? -1 : 1) * (oh * 3600 + om * 60)
            } else {
                return nil
            }
        }
        let days = daysFromCivil(y, mo, d)
        let wall = Double(days * 86400 + h * 3600 + mi * 60 + se) + fraction
        return Parsed(wallSeconds: wall, offset: offset)
    }

    private static func pad2(_ v: Int, _ out: inout String) {
        if v < 10 { out += "0" }
        out += String(v)
    }

    /// `YYYY-MM-DD` of days since 1970.
    static func formatDate(days: Int) -> String {
        let (y, m, d) = civilFromDays(days)
        var out = String(y)
        out += "-"
        pad2(m, &out)
        out += "-"
        pad2(d, &out)
        return out
    }

    /// `YYYY-MM-DDTHH:MM:SS` of a wall-clock reading.
    static func formatWall(_ wallSeconds: Double) -> String {
        let total = Int(wallSeconds.rounded(.down))
        let days = total >= 0 ? total / 86400 : (total - 86399) / 86400
        let secs = total - days * 86400
        var out = formatDate(days: days)
        out += "T"
        pad2(secs / 3600, &out)
        out += ":"
        pad2(secs / 60 % 60, &out)
        out += ":"
        pad2(secs % 60, &out)
        return out
    }

    /// RFC 3339 in UTC with `Z` (Google style).
    static func formatUTC(_ instant: Double) -> String { formatWall(instant) + "Z" }

    /// RFC 3339 with milliseconds in UTC (Google `created`/`updated`).
    static func formatUTCMillis(_ instant: Double) -> String {
        let ms = Int((instant - instant.rounded(.down)) * 1000)
        var msText = String(ms)
        while msText.count < 3 { msText = "0" + msText }
        return formatWall(instant) + "." + msText + "Z"
    }

    /// RFC 3339 with an explicit offset (Google renders times in the event's zone).
    static func formatWithOffset(_ instant: Double, offset: Int) -> String {
        if offset == 0 { return formatUTC(instant) }
        var out = formatWall(instant + Double(offset))
        out += offset < 0 ? "-" : "+"
        let a = abs(offset)
        pad2(a / 3600, &out)
        out += ":"
        pad2(a / 60 % 60, &out)
        return out
    }

    /// Graph's `2026-11-23T14:00:00.0000000`.
    static func formatGraph(_ instant: Double) -> String { formatWall(instant) + ".0000000" }

    /// The offset of a zone at an instant (0 for unknown zones).
    static func offset(of zone: String?, at instant: Double) -> Int {
        guard let zone, zone != "UTC", let tz = TimeZone(identifier: zone) else { return 0 }
        return tz.secondsFromGMT(for: Date(timeIntervalSince1970: instant))
    }

    /// The instant of a wall-clock reading in a zone.
    static func instant(wall: Double, zone: String?) -> Double {
        guard let zone, zone != "UTC", let tz = TimeZone(identifier: zone) else { return wall }
        let guess = wall - Double(tz.secondsFromGMT(for: Date(timeIntervalSince1970: wall)))
        return wall - Double(tz.secondsFromGMT(for: Date(timeIntervalSince1970: guess)))
    }
}
