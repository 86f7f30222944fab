import CalsyncJobs

/// A classified failure of a calendar provider call: what happened (`code`), what to do (`kind`),
/// and a message a person can act on. Never carries a token or a response body.
package struct ProviderError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What the caller should do about the failure.
    package enum Kind: Sendable, Hashable {
        /// Try again later, not before `retryAfter` when the provider said so.
        case retryable(retryAfter: Duration?)
        /// The access token was refused: refresh it once, then retry.
        case authExpired
        /// The grant is gone (`invalid_grant`): the member must reconnect.
        case reconnectRequired
        /// The sync cursor expired: drop it and read the whole window again.
        case fullResyncRequired
        /// The resource does not exist.
        case notFound
        /// Retrying will not help.
        case permanent
    }

    /// A stable, low-cardinality code (safe as a metric label), e.g. `rate_limited`.
    package var code: Code
    /// What to do about it.
    package var kind: Kind
    /// The HTTP status the provider answered, when there was one.
    package var httpStatus: Int?
    /// A message a person can act on; never a token or a response body. One line of at most
    /// `SafeText.messageLimit` characters: text a provider sent may be huge or hold control characters.
    package var message: String {
        get { safeMessage }
        set { safeMessage = SafeText.line(newValue) }
    }
    private var safeMessage: String

    /// Creates an error (the message is escaped and cut to one safe line).
    package init(code: Code, kind: Kind, httpStatus: Int? = nil, message: String) {
        self.code = code
        self.kind = kind
        self.httpStatus = httpStatus
        self.safeMessage = SafeText.line(message)
    }

    /// Whether retrying later may succeed.
    package var isRetryable: Bool {
        if case .retryable = kind { return true }
        return false
    }

    /// The provider's requested wait before a retry, when it gave one.
    package var retryAfter: Duration? {
        if case .retryable(let after) = kind { return after }
        return nil
    }

    /// `code (status): message`.
    package var description: String {
        "ProviderError(\(code)\(httpStatus.map { ", HTTP \($0)" } ?? ""): \(message))"
    }
}

extension ProviderError {
    /// A retryable failure.
    package static func retryable(_ code: Code, status: Int? = nil, retryAfter: Duration? = nil, _ message: String) -> ProviderError {
        ProviderError(code: code, kind: .retryable(retryAfter: retryAfter), httpStatus: status, message: message)
    }

    /// A failure that retrying will not fix.
    package static func permanent(_ code: Code, status: Int? = nil, _ message: String) -> ProviderError {
        ProviderError(code: code, kind: .permanent, httpStatus: status, message: message)
    }
}
