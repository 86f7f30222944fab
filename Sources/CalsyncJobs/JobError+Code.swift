extension JobError {
    /// A job failure's stable code: a metric label, written in dead records and the docs.
    ///
    /// Codes are compared as values (`error.code == .authorizationCodeInvalid`), never as strings; the text never changes.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        package let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        package var description: String { rawValue }

        /// `authorization_code_invalid`: The provider refused the authorization code: the member connects again.
        package static let authorizationCodeInvalid = Code("authorization_code_invalid")

        /// `authorization_code_redacted`: The job carries the redacted placeholder instead of an authorization code.
        package static let authorizationCodeRedacted = Code("authorization_code_redacted")

        /// `diag_defer`: The diagnostic handler was told to defer.
        package static let diagDefer = Code("diag_defer")

        /// `diag_permanent`: The diagnostic handler was told to fail for good.
        package static let diagPermanent = Code("diag_permanent")

        /// `diag_retryable`: The diagnostic handler was told to fail once more.
        package static let diagRetryable = Code("diag_retryable")

        /// `forbidden`: Not allowed: another member's calendar, or a calendar the provider refuses to share.
        package static let forbidden = Code("forbidden")

        /// `invalid_job`: The job breaks its schema.
        package static let invalidJob = Code("invalid_job")

        /// `job_timeout`: The run outlived its job timeout and was cancelled.
        package static let jobTimeout = Code("job_timeout")

        /// `locked`: Another job for the same appointment or member holds its lock.
        package static let locked = Code("locked")

        /// `no_calendar`: The account has no calendar to sync with.
        package static let noCalendar = Code("no_calendar")

        /// `no_export_calendar`: The connection has no export calendar.
        package static let noExportCalendar = Code("no_export_calendar")

        /// `provider_not_configured`: This worker has no client id and secret for the provider.
        package static let providerNotConfigured = Code("provider_not_configured")

        /// `rate_limited`: A rate limit (calsync's or the provider's) holds the request back.
        package static let rateLimited = Code("rate_limited")

        /// `unexpected_error`: An error calsync does not classify; retried.
        package static let unexpectedError = Code("unexpected_error")

        /// `unknown_member`: The member does not exist in the database.
        package static let unknownMember = Code("unknown_member")

        /// `unsupported_provider`: The provider is not supported by this version.
        package static let unsupportedProvider = Code("unsupported_provider")

        /// `verify_pending`: An earlier write's outcome is unknown until it can no longer land.
        package static let verifyPending = Code("verify_pending")
    }
}
