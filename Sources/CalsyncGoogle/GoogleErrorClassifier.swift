import CalsyncHTTP
import CalsyncSync
import Foundation

/// Maps Google Calendar error answers to ``ProviderError``s (providers.md, "Errors and quotas").
package enum GoogleErrorClassifier {
    /// Classifies one non-2xx answer.
    package static func classify(_ result: HTTPResult, quotaBackoff: Duration = .seconds(1800)) -> ProviderError {
        let status = result.status
        let body = try? JSONDecoder().decode(GoogleErrorBody.self, from: result.data)
        let reasons = Set((body?.error?.errors ?? []).compactMap(\.reason))
        let retryAfter = result.retryAfter()
        switch status {
        case 401:
            return ProviderError(
                code: .authExpired, kind: .authExpired, httpStatus: 401,
                message: "Google refused the access token; refresh it and retry.")
        case 403 where reasons.contains("rateLimitExceeded") || reasons.contains("userRateLimitExceeded"):
            return .retryable(.rateLimited, status: 403, retryAfter: retryAfter, "Google is rate limiting this account; retrying with backoff.")
        case 403 where reasons.contains("quotaExceeded") || reasons.contains("dailyLimitExceeded"):
            return .retryable(
                .quotaExceeded, status: 403, retryAfter: retryAfter ?? quotaBackoff,
                "Google's API quota of calsync's project is used up; retrying after a long backoff. Raise the quota if this repeats.")
        case 403:
            let reason = reasons.sorted().first.map { " (\($0))" } ?? ""
            return .permanent(.forbidden, status: 403, "Google refused access to this calendar\(reason). Check that the calendar is shared with write access.")
        case 404:
            return ProviderError(code: .notFound, kind: .notFound, httpStatus: 404, message: "Google has no such calendar or event.")
        case 409:
            return .permanent(.conflict, status: 409, "Google reports that the event already exists.")
        case 410:
            return ProviderError(
                code: .fullResyncRequired, kind: .fullResyncRequired, httpStatus: 410,
                message: "Google expired the sync token of this calendar; a full import of the window follows.")
        case 412:
            return .retryable(.preconditionFailed, status: 412, "The event changed on Google meanwhile; retrying.")
        case 429:
            return .retryable(.rateLimited, status: 429, retryAfter: retryAfter, "Google is rate limiting; retrying with backoff.")
        case 500...:
            return .retryable(.serverError, status: status, retryAfter: retryAfter, "Google failed with HTTP \(status); retrying with backoff.")
        case 400:
            let reason = reasons.sorted().first.map { " (\($0))" } ?? ""
            return .permanent(.badRequest, status: 400, "Google refused the request as invalid\(reason).")
        default:
            return .permanent(.unexpectedStatus, status: status, "Google answered with unexpected HTTP \(status).")
        }
    }
}

struct GoogleErrorBody: Decodable {
    struct Detail: Decodable {
        struct Item: Decodable {
            var reason: String?
        }
        var errors: [Item]?
    }
    var error: Detail?
}
