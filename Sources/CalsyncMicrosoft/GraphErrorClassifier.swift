import CalsyncHTTP
import CalsyncSync
import Foundation

/// Maps Microsoft Graph error answers to ``ProviderError``s (providers.md, Microsoft Graph).
package enum GraphErrorClassifier {
    /// Classifies one non-2xx answer.
    package static func classify(_ result: HTTPResult) -> ProviderError {
        let status = result.status
        let code = (try? JSONDecoder().decode(GraphErrorBody.self, from: result.data))?.error?.code ?? ""
        let retryAfter = result.retryAfter()
        if code == "ErrorDuplicateTransactionId", status == 400 || status == 409 {
            return .permanent(.duplicateTransaction, status: status, "Microsoft already created an event with this transaction id.")
        }
        switch status {
        case 401:
            return ProviderError(
                code: .authExpired, kind: .authExpired, httpStatus: 401, message: "Microsoft refused the access token; refresh it and retry.")
        case 403:
            return .permanent(.forbidden, status: 403, "Microsoft refused access to this calendar. Check that calsync was granted Calendars.ReadWrite.")
        case 404:
            return ProviderError(code: .notFound, kind: .notFound, httpStatus: 404, message: "Microsoft has no such calendar or event.")
        case 410:
            return ProviderError(
                code: .fullResyncRequired, kind: .fullResyncRequired, httpStatus: 410,
                message: "Microsoft expired the delta state of this calendar; a full import of the window follows.")
        case 429:
            return .retryable(.rateLimited, status: 429, retryAfter: retryAfter, "Microsoft is throttling this mailbox; retrying after its Retry-After.")
        case 500...:
            return .retryable(.serverError, status: status, retryAfter: retryAfter, "Microsoft failed with HTTP \(status); retrying with backoff.")
        case 400:
            let detail = code.isEmpty ? "" : " (\(code.prefix(60)))"
            return .permanent(.badRequest, status: 400, "Microsoft refused the request as invalid\(detail).")
        default:
            return .permanent(.unexpectedStatus, status: status, "Microsoft answered with unexpected HTTP \(status).")
        }
    }
}

struct GraphErrorBody: Decodable {
    struct Detail: Decodable {
        var code: String?
    }
    var error: Detail?
}
