extension ProviderError {
    /// A provider failure's stable code: a metric label, passed on to the job's dead record.
    ///
    /// Codes are compared as values (`error.code == .authExpired`), never as strings; the text never changes.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        package let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        package var description: String { rawValue }

        /// `auth_expired`: The access token was refused: refresh it once, then retry.
        package static let authExpired = Code("auth_expired")

        /// `bad_request`: The provider refused the request as invalid.
        package static let badRequest = Code("bad_request")

        /// `cancelled`: The request was cancelled before its answer came.
        package static let cancelled = Code("cancelled")

        /// `conflict`: The provider reports that the event already exists.
        package static let conflict = Code("conflict")

        /// `duplicate_transaction`: Microsoft already created an event with this transaction id.
        package static let duplicateTransaction = Code("duplicate_transaction")

        /// `encoding_failed`: A request body could not be encoded (a calsync bug).
        package static let encodingFailed = Code("encoding_failed")

        /// `forbidden`: Not allowed: another member's calendar, or a calendar the provider refuses to share.
        package static let forbidden = Code("forbidden")

        /// `full_resync_required`: The sync cursor expired: read the whole window again.
        package static let fullResyncRequired = Code("full_resync_required")

        /// `invalid_client`: The provider refused calsync's OAuth client id or secret.
        package static let invalidClient = Code("invalid_client")

        /// `invalid_grant`: The grant was revoked or expired: the member reconnects.
        package static let invalidGrant = Code("invalid_grant")

        /// `malformed_response`: The provider's answer could not be read.
        package static let malformedResponse = Code("malformed_response")

        /// `network_error`: The connection to the provider failed.
        package static let networkError = Code("network_error")

        /// `no_refresh_token`: The provider gave no refresh token: the member reconnects.
        package static let noRefreshToken = Code("no_refresh_token")

        /// `not_found`: The calendar or event does not exist.
        package static let notFound = Code("not_found")

        /// `precondition_failed`: The event changed at the provider meanwhile.
        package static let preconditionFailed = Code("precondition_failed")

        /// `quota_exceeded`: The app's quota at the provider is used up.
        package static let quotaExceeded = Code("quota_exceeded")

        /// `rate_limited`: A rate limit (calsync's or the provider's) holds the request back.
        package static let rateLimited = Code("rate_limited")

        /// `response_too_large`: The answer exceeded the response size limit.
        package static let responseTooLarge = Code("response_too_large")

        /// `server_error`: The server answered with an error.
        package static let serverError = Code("server_error")

        /// `timeout`: No answer within the time limit.
        package static let timeout = Code("timeout")

        /// `token_redirect`: The token endpoint answered with a redirect, which calsync never follows.
        package static let tokenRedirect = Code("token_redirect")

        /// `token_request_failed`: The token endpoint refused the request.
        package static let tokenRequestFailed = Code("token_request_failed")

        /// `too_many_pages`: A read needed more pages than allowed.
        package static let tooManyPages = Code("too_many_pages")

        /// `transaction_pending`: Graph knows the transaction id but its event is not found yet.
        package static let transactionPending = Code("transaction_pending")

        /// `unexpected_status`: The provider answered with an HTTP status calsync does not expect.
        package static let unexpectedStatus = Code("unexpected_status")

        /// `untrusted_link`: A paging link pointed outside the configured origin.
        package static let untrustedLink = Code("untrusted_link")
    }
}

extension ProviderError.Code: ExpressibleByStringLiteral {
    /// A code from its text (a provider's own reason, or a test's).
    package init(stringLiteral value: String) { self.init(value) }
}
