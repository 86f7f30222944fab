extension SchedulerError {
    /// A scheduler tick's failure, as a stable code.
    ///
    /// Codes are compared as values (`error.code == .redisError`), never as strings; the text never changes.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        package let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        package var description: String { rawValue }

        /// `redis_error`: Redis refused a command of the tick.
        package static let redisError = Code("redis_error")
    }
}
