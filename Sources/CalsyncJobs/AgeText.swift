import Foundation

/// An age as operators read it (`calsync queues`, the console): `12.3 s`, `4.5 min`, `2.0 h`, `3.1 d`.
package enum AgeText {
    /// `seconds` in the largest unit that keeps it readable, one decimal.
    package static func format(seconds: Double) -> String {
        if seconds < 120 { return String(format: "%.1f s", seconds) }
        if seconds < 7200 { return String(format: "%.1f min", seconds / 60) }
        if seconds < 172_800 { return String(format: "%.1f h", seconds / 3600) }
        return String(format: "%.1f d", seconds / 86_400)
    }
}
