extension RedisError {
    /// A Redis failure's stable code, safe as a metric label.
    ///
    /// Codes are compared as values (`error.code == .closed`), never as strings; the text never changes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        public let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        public var description: String { rawValue }

        /// `closed`
        public static let closed = Code("closed")

        /// `connection_failed`
        public static let connectionFailed = Code("connection_failed")

        /// `invalid_url`
        public static let invalidUrl = Code("invalid_url")

        /// `protocol`
        public static let `protocol` = Code("protocol")

        /// `server_error`
        public static let serverError = Code("server_error")

        /// `timeout`
        public static let timeout = Code("timeout")
    }
}
