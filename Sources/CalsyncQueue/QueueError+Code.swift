extension QueueError {
    /// A queue operation's stable error code.
    ///
    /// Codes are compared as values (`error.code == .invalidPayload`), never as strings; the text never changes.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        package let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        package var description: String { rawValue }

        /// `invalid_payload`: The payload is not a JSON object, or the job id is too long.
        package static let invalidPayload = Code("invalid_payload")

        /// `invalid_type`: The job type is not 1-64 characters of a-z, 0-9, _ or -.
        package static let invalidType = Code("invalid_type")

        /// `not_retryable`: A dead record without a job type cannot be retried.
        package static let notRetryable = Code("not_retryable")

        /// `unexpected_reply`: Redis or a script answered in a shape calsync does not expect.
        package static let unexpectedReply = Code("unexpected_reply")
    }
}
