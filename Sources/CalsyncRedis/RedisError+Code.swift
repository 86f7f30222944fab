extension RedisError {
    /// A Redis failure's stable code, safe as a metric label.
    ///
    /// Codes are compared as values (`error.code == .closed`), never as strings; the text never changes.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        package let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        package var description: String { rawValue }

        /// `closed`: The client was closed.
        package static let closed = Code("closed")

        /// A client's `run()` was called twice.
        package static let alreadyRunning = Code("already_running")

        /// `connection_failed`: The server could not be reached or the connection broke.
        package static let connectionFailed = Code("connection_failed")

        /// `invalid_url`: The URL is malformed.
        package static let invalidUrl = Code("invalid_url")

        /// `protocol`: The reply could not be understood.
        package static let `protocol` = Code("protocol")

        /// `server_error`: The server answered with an error.
        package static let serverError = Code("server_error")

        /// `timeout`: No answer within the time limit.
        package static let timeout = Code("timeout")
    }
}
