import CalsyncHTTP
import CalsyncSync
import Foundation

/// Maps CalDAV error answers to ``ProviderError``s (providers.md, "CalDAV").
package enum CalDAVErrorClassifier {
    /// Classifies one non-2xx answer.
    package static func classify(_ result: HTTPResult) -> ProviderError {
        let status = result.status
        let retryAfter = result.retryAfter()
        switch status {
        case 401:
            // A password cannot be refreshed: the sync rules ask for one refresh, which marks `reconnect_required`.
            return ProviderError(
                code: .authExpired, kind: .authExpired, httpStatus: 401,
                message: "The CalDAV server refused the user name or password.")
        case 403:
            let body = String(decoding: result.data.prefix(4096), as: UTF8.self)
            if body.contains("valid-sync-token") {
                return syncTokenRefused(status)
            }
            return .permanent(
                .forbidden, status: 403, "The CalDAV server refused access to this calendar (HTTP 403). Check that the account may write to it.")
        case 404, 410:
            return ProviderError(code: .notFound, kind: .notFound, httpStatus: status, message: "The CalDAV server has no such calendar or event.")
        case 409, 418:
            if String(decoding: result.data.prefix(4096), as: UTF8.self).contains("sync-token") { return syncTokenRefused(status) }
            return .permanent(.conflict, status: status, "The CalDAV server refused the request as a conflict (HTTP \(status)).")
        case 412:
            return .retryable(.preconditionFailed, status: 412, "The event changed on the CalDAV server meanwhile; retrying.")
        case 429:
            return .retryable(.rateLimited, status: 429, retryAfter: retryAfter, "The CalDAV server is rate limiting; retrying with backoff.")
        case 503 where retryAfter != nil:
            return .retryable(.rateLimited, status: 503, retryAfter: retryAfter, "The CalDAV server asked to wait (HTTP 503); retrying after its Retry-After.")
        case 500...:
            return .retryable(.serverError, status: status, retryAfter: retryAfter, "The CalDAV server failed with HTTP \(status); retrying with backoff.")
        case 413:
            return .permanent(.badRequest, status: 413, "The CalDAV server refused the event as too large (HTTP 413).")
        case 400, 415, 422:
            return .permanent(.badRequest, status: status, "The CalDAV server refused the request as invalid (HTTP \(status)).")
        case 300..<400:
            return .permanent(.untrustedRedirect, status: status, "The CalDAV server answered a write with a redirect (HTTP \(status)); check the calendar's address.")
        default:
            return .permanent(.unexpectedStatus, status: status, "The CalDAV server answered with unexpected HTTP \(status).")
        }
    }

    static func syncTokenRefused(_ status: Int) -> ProviderError {
        ProviderError(
            code: .fullResyncRequired, kind: .fullResyncRequired, httpStatus: status,
            message: "The CalDAV server refused the sync token of this calendar; a full import of the window follows.")
    }
}
