import Foundation
import Synchronization

/// Which emulated service a path belongs to.
enum SandboxRoute {
    case googleAPI([String])
    case googleToken
    case graph([String])
    case microsoftToken
    case control([String])
    case unknown

    static let googleAPIPrefix = "/google/calendar/v3"
    static let graphPrefix = "/microsoft/v1.0"

    init(path: String) {
        if path == "/google/oauth2/token" {
            self = .googleToken
        } else if path == "/microsoft/oauth2/v2.0/token" || path == "/microsoft/common/oauth2/v2.0/token" {
            self = .microsoftToken
        } else if path.hasPrefix(Self.googleAPIPrefix + "/") {
            self = .googleAPI(Self.segments(path.dropFirst(Self.googleAPIPrefix.count)))
        } else if path.hasPrefix(Self.graphPrefix + "/") {
            self = .graph(Self.segments(path.dropFirst(Self.graphPrefix.count)))
        } else if path.hasPrefix("/_sandbox/") || path == "/_sandbox" {
            self = .control(Self.segments(path.dropFirst("/_sandbox".count)))
        } else {
            self = .unknown
        }
    }

    static func segments(_ s: Substring) -> [String] {
        s.split(separator: "/", omittingEmptySubsequences: true).map {
            $0.contains("%") ? String($0).removingPercentEncoding ?? String($0) : String($0)
        }
    }

    var isGraphAPI: Bool {
        if case .graph = self { return true }
        return false
    }

    var provider: SandboxProvider? {
        switch self {
        case .googleAPI, .googleToken: return .google
        case .graph, .microsoftToken: return .microsoft
        case .control, .unknown: return nil
        }
    }
}

extension Sandbox {
    /// Answers one HTTP request: faults, authentication, quotas, the emulator, the request log, and the
    /// check that the account's last `Retry-After` had run out.
    func handle(_ request: APIRequest) async -> APIResponse {
        let route = SandboxRoute(path: request.path)
        if case .control(let segments) = route {
            return ControlAPI.handle(self, request, segments)
        }
        guard let provider = route.provider else {
            return .json(404, ["error": ["code": 404, "message": "Not Found"]])
        }
        let arrived = Date()
        let key = checkRetryAfter(provider: provider, request: request, arrived: arrived)
        let response = await answer(request, route: route, provider: provider, arrived: arrived)
        if let key, let value = response.headers.first(where: { $0.0.lowercased() == "retry-after" })?.1,
            let seconds = Double(value.trimmingCharacters(in: .whitespaces))
        {
            let answered = Self.now
            state.withLock { s in
                if let account = s.accounts[key], answered + seconds > account.retryAfterUntil {
                    account.retryAfterFrom = answered
                    account.retryAfterUntil = answered + seconds
                    account.retryAfterStatus = response.status
                }
            }
        }
        return response
    }

    /// The account of the request's bearer token; records the request when it came before that account's
    /// `Retry-After` ran out (with `retryAfterTolerance` of slack at both ends of the wait).
    func checkRetryAfter(provider: SandboxProvider, request: APIRequest, arrived: Date) -> AccountKey? {
        guard let header = request.header("authorization"), header.lowercased().hasPrefix("bearer ") else { return nil }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        return state.withLock { s -> AccountKey? in
            guard let key = s.accessTokens[token]?.key, key.provider == provider, let account = s.accounts[key] else {
                return nil
            }
            let tolerance = Double(s.configuration.retryAfterTolerance.components.seconds)
                + Double(s.configuration.retryAfterTolerance.components.attoseconds) / 1e18
            let time = arrived.timeIntervalSince1970
            // A request that arrives within the tolerance after the answer may have been sent before the
            // client could see it; one that arrives within the tolerance before the end is on time.
            if time > account.retryAfterFrom + tolerance, time < account.retryAfterUntil - tolerance {
                s.earlyRequests.append(
                    SandboxEarlyRequest(
                        provider: provider, account: key.email, method: request.method, path: request.path, time: arrived,
                        allowedAt: Date(timeIntervalSince1970: account.retryAfterUntil), status: account.retryAfterStatus))
            }
            return key
        }
    }

    /// Answers an API or token request: faults, authentication, quotas, the emulator, the request log.
    func answer(_ request: APIRequest, route: SandboxRoute, provider: SandboxProvider, arrived: Date) async -> APIResponse {
        let fault = pickFault(provider: provider, request: request)
        var dropAfter = false
        switch fault {
        case .status(let status, let body)?:
            let response: APIResponse
            if let body {
                response = APIResponse(status: status, headers: [("Content-Type", "application/json; charset=UTF-8")], body: Array(body.utf8))
            } else {
                response = Self.injectedError(provider: provider, status: status)
            }
            record(provider: provider, request: request, status: status, account: accountHint(request), time: arrived)
            return response
        case .hang(let ms)?:
            try? await Task.sleep(for: .milliseconds(min(max(ms, 0), 600_000)))
        case .latency(let ms)?:
            // Graph: latency is spent inside the mailbox's concurrency slot, like a slow backend.
            if provider == .google || !route.isGraphAPI { try? await Task.sleep(for: .milliseconds(min(max(ms, 0), 600_000))) }
        case .malformedJSON?:
            record(provider: provider, request: request, status: 200, account: accountHint(request), time: arrived)
            let text = provider == .google
                ? "{\"kind\":\"calendar#events\",\"items\":[{\"id\":\"abc\",\"summary\":\"trunc"
                : "{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#users\",\"value\":[{\"id\":\"AAM"
            return APIResponse(status: 200, headers: [("Content-Type", "application/json; charset=UTF-8")], body: Array(text.utf8))
        case .hugeBody(let bytes)?:
            record(provider: provider, request: request, status: 200, account: accountHint(request), time: arrived)
            var body = Array("{\"items\":[\"".utf8)
            body.append(contentsOf: repeatElement(UInt8(ascii: "x"), count: max(0, min(bytes, 512 << 20) - body.count - 3)))
            body.append(contentsOf: Array("\"]}".utf8))
            return APIResponse(status: 200, headers: [("Content-Type", "application/json; charset=UTF-8")], body: body)
        case .redirect(let status, let location)?:
            record(provider: provider, request: request, status: status, account: accountHint(request), time: arrived)
            return APIResponse(status: status, headers: [("Location", location)], body: [])
        case .dropAfterProcessing?:
            dropAfter = true
        case nil:
            break
        }

        var response: APIResponse
        var accountEmail: String?
        switch route {
        case .googleToken:
            response = state.withLock { s in OAuthEndpoints.google(&s, request) }
        case .microsoftToken:
            response = state.withLock { s in OAuthEndpoints.microsoft(&s, request) }
        case .googleAPI(let segments):
            let outcome = state.withLock { s -> (APIResponse, String?) in
                switch Self.authenticate(&s, provider: .google, request: request) {
                case .failure(let error):
                    return (GoogleAPI.errorResponse(error), nil)
                case .success(let account):
                    if let refusal = Self.admit(&s, account: account) {
                        return (GoogleAPI.errorResponse(refusal), account.email)
                    }
                    return (GoogleAPI.handle(&s, request, segments, account: account), account.email)
                }
            }
            response = outcome.0
            accountEmail = outcome.1
        case .graph(let segments):
            let admitted = state.withLock { s -> Result<String, SandboxAPIError> in
                switch Self.authenticate(&s, provider: .microsoft, request: request) {
                case .failure(let error): return .failure(error)
                case .success(let account):
                    if let refusal = Self.admit(&s, account: account) { return .failure(refusal) }
                    account.inFlight += 1
                    return .success(account.email)
                }
            }
            switch admitted {
            case .failure(let error):
                response = GraphAPI.errorResponse(error)
            case .success(let email):
                accountEmail = email
                if case .latency(let ms)? = fault { try? await Task.sleep(for: .milliseconds(min(max(ms, 0), 600_000))) }
                response = state.withLock { s in
                    guard let account = s.account(.microsoft, email) else {
                        return GraphAPI.errorResponse(SandboxAPIError(401, "InvalidAuthenticationToken", "Access token is empty."))
                    }
                    return GraphAPI.handle(&s, request, segments, account: account)
                }
                state.withLock { s in
                    if let account = s.account(.microsoft, email) { account.inFlight = max(0, account.inFlight - 1) }
                }
            }
        case .control, .unknown:
            response = .empty(404)
        }
        if dropAfter {
            response = Self.injectedError(provider: provider, status: 504)
        }
        record(provider: provider, request: request, status: response.status, account: accountEmail, time: arrived)
        return response
    }

    /// The account a bearer token belongs to, for the log of requests a fault answered.
    func accountHint(_ request: APIRequest) -> String? {
        guard let header = request.header("authorization"), header.lowercased().hasPrefix("bearer ") else { return nil }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        return state.withLock { $0.accessTokens[token]?.key.email }
    }

    /// The provider's error body for an injected status.
    static func injectedError(provider: SandboxProvider, status: Int) -> APIResponse {
        switch provider {
        case .google:
            let reason: String
            switch status {
            case 403: reason = "rateLimitExceeded"
            case 429: reason = "rateLimitExceeded"
            case 401: reason = "authError"
            case 404: reason = "notFound"
            case 500..<600: reason = "backendError"
            default: reason = "badRequest"
            }
            var error = SandboxAPIError(status, reason, status >= 500 ? "Backend Error" : "Injected fault")
            if status == 429 || status == 503 { error.headers = [("Retry-After", "1")] }
            return GoogleAPI.errorResponse(error)
        case .microsoft:
            let code: String
            switch status {
            case 429: code = "ApplicationThrottled"
            case 503: code = "ServiceNotAvailable"
            case 504: code = "UnknownError"
            case 500..<600: code = "generalException"
            case 401: code = "InvalidAuthenticationToken"
            case 404: code = "ErrorItemNotFound"
            default: code = "BadRequest"
            }
            var error = SandboxAPIError(status, code, "Injected fault")
            if status == 429 || status == 503 { error.headers = [("Retry-After", "1")] }
            return GraphAPI.errorResponse(error)
        }
    }

    /// Chooses the first matching fault that fires, consuming one of its remaining uses.
    func pickFault(provider: SandboxProvider, request: APIRequest) -> SandboxFault.Kind? {
        state.withLock { s in
            guard !s.faults.isEmpty else { return nil }
            for i in s.faults.indices {
                let f = s.faults[i].fault
                if let p = f.provider, p != provider { continue }
                if let m = f.method, m.uppercased() != request.method { continue }
                if let c = f.pathContains, !request.path.contains(c) { continue }
                if let r = f.remaining, r <= 0 { continue }
                if f.probability < 1 {
                    let draw: Double
                    if var random = s.faultRandom {
                        draw = Double.random(in: 0..<1, using: &random)
                        s.faultRandom = random
                    } else {
                        draw = Double.random(in: 0..<1)
                    }
                    if draw >= f.probability { continue }
                }
                if let r = f.remaining { s.faults[i].fault.remaining = r - 1 }
                return f.kind
            }
            return nil
        }
    }

    func record(provider: SandboxProvider?, request: APIRequest, status: Int, account: String?, time: Date) {
        let entry = SandboxRequestRecord(
            provider: provider, method: request.method, path: request.path, query: request.rawQuery, status: status,
            account: account, time: time)
        state.withLock { s in
            s.log.append(entry)
            let limit = max(1, s.configuration.requestLogLimit)
            if s.log.count > limit + limit / 4 { s.log.removeFirst(s.log.count - limit) }
        }
    }

    /// The account of a valid bearer token, or the provider's 401.
    static func authenticate(
        _ s: inout SandboxState, provider: SandboxProvider, request: APIRequest
    ) -> Result<AccountState, SandboxAPIError> {
        let unauthorized: SandboxAPIError
        switch provider {
        case .google:
            var e = SandboxAPIError(
                401, "authError",
                "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
            e.headers = [("WWW-Authenticate", "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"")]
            unauthorized = e
        case .microsoft:
            var e = SandboxAPIError(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
            e.headers = [("WWW-Authenticate", "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\"")]
            unauthorized = e
        }
        guard let header = request.header("authorization") else {
            var e = unauthorized
            if provider == .microsoft { e.message = "Access token is empty." }
            return .failure(e)
        }
        let prefix = "bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix else {
            return .failure(unauthorized)
        }
        let token = String(header.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
        guard let record = s.accessTokens[token], record.key.provider == provider,
            let account = s.accounts[record.key], record.generation == account.accessGeneration
        else { return .failure(unauthorized) }
        if record.expires <= now {
            s.accessTokens.removeValue(forKey: token)
            return .failure(unauthorized)
        }
        return .success(account)
    }

    /// Applies the per-user (Google) or per-mailbox (Graph) limits; nil admits the request.
    static func admit(_ s: inout SandboxState, account: AccountState) -> SandboxAPIError? {
        let t = now
        switch account.provider {
        case .google:
            if let projectLimit = s.configuration.googleProjectRequestsPerMinute,
                let wait = s.googleProjectWindow.admit(now: t, limit: projectLimit, window: 60)
            {
                var error = SandboxAPIError(403, "rateLimitExceeded", "Rate Limit Exceeded")
                if s.configuration.googleSendsRetryAfter {
                    error.headers = [("Retry-After", String(max(1, Int(wait.rounded(.up)))))]
                }
                return error
            }
            guard let wait = userWait(&s, account: account, now: t) else { return nil }
            var error: SandboxAPIError
            if s.configuration.googleRateLimitStatus == 429 {
                error = SandboxAPIError(429, "rateLimitExceeded", "Rate Limit Exceeded")
            } else {
                error = SandboxAPIError(403, "userRateLimitExceeded", "User Rate Limit Exceeded")
            }
            if s.configuration.googleSendsRetryAfter {
                error.headers = [("Retry-After", String(max(1, Int(wait.rounded(.up)))))]
            }
            return error
        case .microsoft:
            if account.inFlight >= s.configuration.microsoftMailboxConcurrency {
                var error = SandboxAPIError(
                    429, "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.")
                error.headers = [("Retry-After", "1")]
                return error
            }
            guard let wait = userWait(&s, account: account, now: t) else { return nil }
            var error = SandboxAPIError(429, "ApplicationThrottled", "Application is over its IncomingBytes/request limit.")
            error.headers = [("Retry-After", String(max(1, Int(wait.rounded(.up)))))]
            return error
        }
    }

    /// Counts a request against the account's own quota; the seconds to wait when it is over, nil when admitted.
    static func userWait(_ s: inout SandboxState, account: AccountState, now t: Double) -> Double? {
        if let rps = account.requestsPerSecond, rps >= 1 {
            // A test quota of R requests per second is an exact sliding window over the last 5 seconds
            // (5·R requests), as real quotas are sliding windows over a minute: arrival jitter of a few
            // milliseconds does not decide whether a request at the limit passes.
            let span = 5.0
            let limit = Int(min(rps * span, 1e9).rounded(.down))
            var start = 0
            while start < account.recent.count, account.recent[start] <= t - span { start += 1 }
            if start > 0 { account.recent.removeFirst(start) }
            if account.recent.count >= limit { return max(0.001, (account.recent.first ?? t) + span - t) }
            account.recent.append(t)
            return nil
        }
        let limit: Int
        let window: Double
        if let rps = account.requestsPerSecond {
            limit = 1
            window = rps > 0 ? 1 / rps : 3600
        } else if account.provider == .google {
            limit = s.configuration.googleUserRequestsPerMinute
            window = 60
        } else {
            limit = s.configuration.microsoftMailboxRequestsPer10Minutes
            window = 600
        }
        return account.window.admit(now: t, limit: limit, window: window)
    }
}
