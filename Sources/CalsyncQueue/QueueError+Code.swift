extension QueueError {
    /// A queue operation's stable error code.
    ///
    /// Codes are compared as values (`error.code == .invalidPayload`), never as strings; the text never changes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        public let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        public var description: String { rawValue }

        /// `invalid_payload`
        public static let invalidPayload = Code("invalid_payload")

        /// `invalid_type`
        public static let invalidType = Code("invalid_type")

        /// `not_retryable`
        public static let notRetryable = Code("not_retryable")

        /// `unexpected_reply`
        public static let unexpectedReply = Code("unexpected_reply")
    }
}
