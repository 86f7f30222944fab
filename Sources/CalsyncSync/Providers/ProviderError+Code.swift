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

        /// `auth_expired`: The access token was refused: refresh it once, then retry.
        public static let authExpired = Code("auth_expired")

        /// `bad_request`: The provider refused the request as invalid.
        public static let badRequest = Code("bad_request")

        /// `cancelled`: The request was cancelled before its answer came.
        public static let cancelled = Code("cancelled")

        /// `conflict`: The provider reports that the event already exists.
        public static let conflict = Code("conflict")

        /// `duplicate_transaction`: Microsoft already created an event with this transaction id.
        public static let duplicateTransaction = Code("duplicate_transaction")

        /// `encoding_failed`: A request body could not be encoded (a calsync bug).
        public static let encodingFailed = Code("encoding_failed")

        /// `forbidden`: Not allowed: another member's calendar, or a calendar the provider refuses to share.
        public static let forbidden = Code("forbidden")

        /// `full_resync_required`: The sync cursor expired: read the whole window again.
        public static let fullResyncRequired = Code("full_resync_required")

        /// `invalid_client`: The provider refused calsync's OAuth client id or secret.
        public static let invalidClient = Code("invalid_client")

        /// `invalid_grant`: The grant was revoked or expired: the member reconnects.
        public static let invalidGrant = Code("invalid_grant")

        /// `malformed_response`: The provider's answer could not be read.
        public static let malformedResponse = Code("malformed_response")

        /// `network_error`: The connection to the provider failed.
        public static let networkError = Code("network_error")

        /// `no_refresh_token`: The provider gave no refresh token: the member reconnects.
        public static let noRefreshToken = Code("no_refresh_token")

        /// `not_found`: The calendar or event does not exist.
        public static let notFound = Code("not_found")

        /// `precondition_failed`: The event changed at the provider meanwhile.
        public static let preconditionFailed = Code("precondition_failed")

        /// `quota_exceeded`: The app's quota at the provider is used up.
        public static let quotaExceeded = Code("quota_exceeded")

        /// `rate_limited`: A rate limit (calsync's or the provider's) holds the request back.
        public static let rateLimited = Code("rate_limited")

        /// `response_too_large`: The answer exceeded the response size limit.
        public static let responseTooLarge = Code("response_too_large")

        /// `server_error`: The server answered with an error.
        public static let serverError = Code("server_error")

        /// `timeout`: No answer within the time limit.
        public static let timeout = Code("timeout")

        /// `token_redirect`: The token endpoint answered with a redirect, which calsync never follows.
        public static let tokenRedirect = Code("token_redirect")

        /// `token_request_failed`: The token endpoint refused the request.
        public static let tokenRequestFailed = Code("token_request_failed")

        /// `too_many_pages`: A read needed more pages than allowed.
        public static let tooManyPages = Code("too_many_pages")

        /// `transaction_pending`: Graph knows the transaction id but its event is not found yet.
        public static let transactionPending = Code("transaction_pending")

        /// `unexpected_status`: The provider answered with an HTTP status calsync does not expect.
        public static let unexpectedStatus = Code("unexpected_status")

        /// `untrusted_link`: A paging link pointed outside the configured origin.
        public static let untrustedLink = Code("untrusted_link")
    }
}
