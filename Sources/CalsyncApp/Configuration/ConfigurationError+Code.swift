extension ConfigurationError {
    /// A configuration problem's stable code.
    ///
    /// Codes are compared as values (`error.code == .invalidEncryptionKey`), never as strings; the text never changes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        public let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        public var description: String { rawValue }

        /// `invalid_encryption_key`
        public static let invalidEncryptionKey = Code("invalid_encryption_key")

        /// `invalid_job_timeout`
        public static let invalidJobTimeout = Code("invalid_job_timeout")

        /// `invalid_value`
        public static let invalidValue = Code("invalid_value")

        /// `missing_encryption_key`
        public static let missingEncryptionKey = Code("missing_encryption_key")

        /// `missing_value`
        public static let missingValue = Code("missing_value")

        /// `unreadable_file`
        public static let unreadableFile = Code("unreadable_file")
    }
}
