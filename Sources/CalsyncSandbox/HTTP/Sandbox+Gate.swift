import Foundation
import Synchronization
import Hummingbird

/// Which emulated service a path belongs to, by its mount point: it decides the gate a request passes
/// (faults, authentication, quotas, the request log); the router then finds the endpoint.
enum SandboxService: Equatable {
    /// Google Calendar v3 or Microsoft Graph: bearer token, quotas.
    case api(SandboxProvider)
    /// A token endpoint: client credentials in the form, no bearer token.
    case token(SandboxProvider)
    /// The control API: no faults, no log.
    case control

    /// Where each service is mounted.
    enum Mount {
        static let googleAPI = "/google/calendar/v3"
        static let googleToken = "/google/oauth2/token"
        static let graph = "/microsoft/v1.0"
        static let microsoftTokens = ["/microsoft/oauth2/v2.0/token", "/microsoft/common/oauth2/v2.0/token"]
        static let control = "/_sandbox"
    }

    /// The service of a request path; nil for a path of no service.
    init?(path: String) {
        if path == Mount.googleToken {
            self = .token(.google)
        } else if Mount.microsoftTokens.contains(path) {
            self = .token(.microsoft)
        } else if path.hasPrefix(Mount.googleAPI + "/") {
            self = .api(.google)
        } else if path.hasPrefix(Mount.graph + "/") {
            self = .api(.microsoft)
        } else if path.hasPrefix(Mount.control + "/") || path == Mount.control {
            self = .control
        } else {
            return nil
        }
    }

    var provider: SandboxProvider? {
        switch self {
        case .api(let p), .token(let p): p
        case .control: nil
        }
    }
}

/// The request as the emulators see it, and the account the gate authenticated, for the routes.
struct SandboxRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The collected request (set by `SandboxGate` before routing).
    var api: APIRequest
    /// The email of the account the bearer token belongs to (API routes only).
    var account: String?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.api = APIRequest(method: "", path: "", queryItems: [], rawQuery: nil, headers: [:], body: [], baseURL: "")
        self.account = nil
    }
}

/// The sandbox's gate in front of the router: collects the body, then for the providers' requests injects
/// faults, authenticates, applies quotas, logs the request and checks that the account's last `Retry-After`
/// had run out. A path the router does not know gets the provider's own answer for it.
struct SandboxGate: RouterMiddleware {
    typealias Context = SandboxRequestContext
    let sandbox: Sandbox

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        var request = request
        var context = context
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: sandbox.configuration.maxRequestBodyBytes)
        } catch {
            return Response(status: .contentTooLarge)
        }
        context.api = APIRequest(request, body: body)
        guard let service = SandboxService(path: request.uri.path) else {
            return APIResponse.json(404, ["error": ["code": 404, "message": "Not Found"]]).httpResponse
        }
        let api = context.api
        let sandbox = self.sandbox
        func route(_ account: String?) async throws -> Response {
            var context = context
            context.account = account
            do {
                return try await next(request, context)
            } catch let error as HTTPError where error.status == .notFound {
                return sandbox.unmatched(api, service: service, account: account).httpResponse
            }
        }
        if service == .control { return try await route(nil) }
        return try await sandbox.gate(api, service: service, route: route)
    }
}

extension Sandbox {
    /// The provider's answer for a path the router does not know (after authentication and quotas).
    func unmatched(_ request: APIRequest, service: SandboxService, account: String?) -> APIResponse {
        switch service {
        case .api(.google): GoogleAPI.notFound()
        case .api(.microsoft): state.withLock { s in GraphAPI.unmatched(&s, request, account: account) }
        case .token: .empty(404)
        case .control: ControlAPI.unknownEndpoint(request)
        }
    }

    /// Answers a provider's request: faults, authentication, quotas, the emulator (`route`, called with the
    /// authenticated account), the request log, and the check that the account's last `Retry-After` had run out.
    func gate(
        _ request: APIRequest, service: SandboxService, route: (String?) async throws -> Response
    ) async throws -> Response {
        guard let provider = service.provider else { return try await route(nil) }
        let arrived = Date()
        let key = checkRetryAfter(provider: provider, request: request, arrived: arrived)
        let response = try await answer(request, service: service, provider: provider, arrived: arrived, route: route)
        if let key, let value = response.headers[.retryAfter], let seconds = Double(value.trimmingCharacters(in: .whitespaces)) {
            let answered = Self.now
            state.withLock { s in
                if let account = s.accounts[key], answered + seconds > account.retryAfterUntil {
                    account.retryAfterFrom = answered
                    account.retryAfterUntil = answered + seconds
                    account.retryAfterStatus = Int(response.status.code)
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
    func answer(
        _ request: APIRequest, service: SandboxService, provider: SandboxProvider, arrived: Date,
        route: (String?) async throws -> Response
    ) async throws -> Response {
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
            return response.httpResponse
        case .hang(let ms)?:
            try? await Task.sleep(for: .milliseconds(min(max(ms, 0), 600_000)))
        case .latency(let ms)?:
            // Graph: latency is spent inside the mailbox's concurrency slot, like a slow backend.
            if service != .api(.microsoft) { try? await Task.sleep(for: .milliseconds(min(max(ms, 0), 600_000))) }
        case .malformedJSON?:
            record(provider: provider, request: request, status: 200, account: accountHint(request), time: arrived)
            let text = provider == .google
                ? "{\"kind\":\"calendar#events\",\"items\":[{\"id\":\"abc\",\"summary\":\"trunc"
                : "{\"@odata.context\":\"https://graph.microsoft.com/v1.0/$metadata#users\",\"value\":[{\"id\":\"AAM"
            return APIResponse(status: 200, headers: [("Content-Type", "application/json; charset=UTF-8")], body: Array(text.utf8)).httpResponse
        case .hugeBody(let bytes)?:
            record(provider: provider, request: request, status: 200, account: accountHint(request), time: arrived)
            var body = Array("{\"items\":[\"".utf8)
            body.append(contentsOf: repeatElement(UInt8(ascii: "x"), count: max(0, min(bytes, 512 << 20) - body.count - 3)))
            body.append(contentsOf: Array("\"]}".utf8))
            return APIResponse(status: 200, headers: [("Content-Type", "application/json; charset=UTF-8")], body: body).httpResponse
        case .redirect(let status, let location)?:
            record(provider: provider, request: request, status: status, account: accountHint(request), time: arrived)
            return APIResponse(status: status, headers: [("Location", location)], body: []).httpResponse
        case .dropAfterProcessing?:
            dropAfter = true
        case nil:
            break
        }

        var response: Response
        var accountEmail: String?
        switch service {
        case .token:
            response = try await route(nil)
        case .api(.google):
            let admitted = state.withLock { s -> (refusal: APIResponse?, email: String?) in
                switch Self.authenticate(&s, provider: .google, request: request) {
                case .failure(let error):
                    return (GoogleAPI.errorResponse(error), nil)
                case .success(let account):
                    return (Self.admit(&s, account: account).map(GoogleAPI.errorResponse), account.email)
                }
            }
            accountEmail = admitted.email
            if let refusal = admitted.refusal {
                response = refusal.httpResponse
            } else {
                response = try await route(admitted.email)
            }
        case .api(.microsoft):
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
                response = GraphAPI.errorResponse(error).httpResponse
            case .success(let email):
                accountEmail = email
                defer {
                    state.withLock { s in
                        if let account = s.account(.microsoft, email) { account.inFlight = max(0, account.inFlight - 1) }
                    }
                }
                if case .latency(let ms)? = fault { try? await Task.sleep(for: .milliseconds(min(max(ms, 0), 600_000))) }
                response = try await route(email)
            }
        case .control:
            response = try await route(nil)
        }
        if dropAfter {
            response = Self.injectedError(provider: provider, status: 504).httpResponse
        }
        record(provider: provider, request: request, status: Int(response.status.code), account: accountEmail, time: arrived)
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
