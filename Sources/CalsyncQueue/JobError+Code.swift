extension JobError {
    /// A job failure's stable code: a metric label, written in dead records and the docs.
    ///
    /// Codes are compared as values (`error.code == .authorizationCodeInvalid`), never as strings; the text never changes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        public let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        public var description: String { rawValue }

        /// `authorization_code_invalid`
        public static let authorizationCodeInvalid = Code("authorization_code_invalid")

        /// `authorization_code_redacted`
        public static let authorizationCodeRedacted = Code("authorization_code_redacted")

        /// `diag_defer`
        public static let diagDefer = Code("diag_defer")

        /// `diag_permanent`
        public static let diagPermanent = Code("diag_permanent")

        /// `diag_retryable`
        public static let diagRetryable = Code("diag_retryable")

        /// `forbidden`
        public static let forbidden = Code("forbidden")

        /// `invalid_job`
        public static let invalidJob = Code("invalid_job")

        /// `job_timeout`
        public static let jobTimeout = Code("job_timeout")

        /// `locked`
        public static let locked = Code("locked")

        /// `no_calendar`
        public static let noCalendar = Code("no_calendar")

        /// `no_export_calendar`
        public static let noExportCalendar = Code("no_export_calendar")

        /// `provider_not_configured`
        public static let providerNotConfigured = Code("provider_not_configured")

        /// `rate_limited`
        public static let rateLimited = Code("rate_limited")

        /// `unexpected_error`
        public static let unexpectedError = Code("unexpected_error")

        /// `unknown_member`
        public static let unknownMember = Code("unknown_member")

        /// `unsupported_provider`
        public static let unsupportedProvider = Code("unsupported_provider")

        /// `verify_pending`
        public static let verifyPending = Code("verify_pending")
    }
}
