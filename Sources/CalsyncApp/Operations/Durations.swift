import Foundation

/// Parses the durations of the CLI: `90s`, `30m`, `12h`, `7d` (a bare number is seconds).
package enum DurationText {
    /// The duration, or nil when `text` is not a positive whole number with an optional s/m/h/d unit.
    package static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard let last = trimmed.last else { return nil }
        let multiplier: Int
        var digits = Substring(trimmed)
        switch last {
        case "s": multiplier = 1; digits = digits.dropLast()
        case "m": multiplier = 60; digits = digits.dropLast()
        case "h": multiplier = 3600; digits = digits.dropLast()
        case "d": multiplier = 86_400; digits = digits.dropLast()
        default: multiplier = 1
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = Int(digits), value >= 0,
            value <= Int.max / multiplier
        else { return nil }
        return .seconds(value * multiplier)
    }
}
