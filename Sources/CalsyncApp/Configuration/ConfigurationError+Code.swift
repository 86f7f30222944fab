extension ConfigurationError {
    /// A configuration problem's stable code.
    ///
    /// Codes are compared as values (`error.code == .invalidEncryptionKey`), never as strings; the text never changes.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        package let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        package var description: String { rawValue }

        /// `invalid_encryption_key`: The encryption key cannot seal credentials.
        package static let invalidEncryptionKey = Code("invalid_encryption_key")

        /// `invalid_job_timeout`: The job timeout does not exceed the provider timeout.
        package static let invalidJobTimeout = Code("invalid_job_timeout")

        /// `invalid_value`: A variable's value is malformed or out of range.
        package static let invalidValue = Code("invalid_value")

        /// `missing_encryption_key`: No encryption key is set.
        package static let missingEncryptionKey = Code("missing_encryption_key")

        /// `missing_value`: A required variable is not set.
        package static let missingValue = Code("missing_value")

        /// `unreadable_file`: The configuration file cannot be read.
        package static let unreadableFile = Code("unreadable_file")
    }
}
