/// The one conversion of a `Duration` into the plain numbers that timers, Redis and `Date` take.
extension Duration {
    /// Whole nanoseconds (rounded toward zero).
    package var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Whole milliseconds (rounded down, never negative).
    package var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    /// Seconds as a `TimeInterval`, e.g. for `Date.addingTimeInterval`.
    package var timeInterval: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
