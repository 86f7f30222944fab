extension ProviderError {
    /// A provider failure's stable code: a metric label, passed on to the job's dead record.
    ///
    /// Codes are compared as values (`error.code == .authExpired`), never as strings; the text never changes.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        public let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        public var description: String { rawValue }

        /// `auth_expired`
        public static let authExpired = Code("auth_expired")

        /// `bad_request`
        public static let badRequest = Code("bad_request")

        /// `cancelled`
        public static let cancelled = Code("cancelled")

        /// `conflict`
        public static let conflict = Code("conflict")

        /// `duplicate_transaction`
        public static let duplicateTransaction = Code("duplicate_transaction")

        /// `encoding_failed`
        public static let encodingFailed = Code("encoding_failed")

        /// `forbidden`
        public static let forbidden = Code("forbidden")

        /// `full_resync_required`
        public static let fullResyncRequired = Code("full_resync_required")

        /// `invalid_client`
        public static let invalidClient = Code("invalid_client")

        /// `invalid_grant`
        public static let invalidGrant = Code("invalid_grant")

        /// `malformed_response`
        public static let malformedResponse = Code("malformed_response")

        /// `network_error`
        public static let networkError = Code("network_error")

        /// `no_refresh_token`
        public static let noRefreshToken = Code("no_refresh_token")

        /// `not_found`
        public static let notFound = Code("not_found")

        /// `precondition_failed`
        public static let preconditionFailed = Code("precondition_failed")

        /// `quota_exceeded`
        public static let quotaExceeded = Code("quota_exceeded")

        /// `rate_limited`
        public static let rateLimited = Code("rate_limited")

        /// `response_too_large`
        public static let responseTooLarge = Code("response_too_large")

        /// `server_error`
        public static let serverError = Code("server_error")

        /// `timeout`
        public static let timeout = Code("timeout")

        /// `token_redirect`
        public static let tokenRedirect = Code("token_redirect")

        /// `token_request_failed`
        public static let tokenRequestFailed = Code("token_request_failed")

        /// `too_many_pages`
        public static let tooManyPages = Code("too_many_pages")

        /// `transaction_pending`
        public static let transactionPending = Code("transaction_pending")

        /// `unexpected_status`
        public static let unexpectedStatus = Code("unexpected_status")

        /// `untrusted_link`
        public static let untrustedLink = Code("untrusted_link")
    }
}
