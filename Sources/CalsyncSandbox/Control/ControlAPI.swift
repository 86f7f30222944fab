import Foundation
import Synchronization
import Hummingbird

/// The JSON control API under `/_sandbox/...`, mirroring the Swift API of `Sandbox` (see docs/sandbox.md).
enum ControlAPI {
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            if let seconds = try? c.decode(Double.self) { return Date(timeIntervalSince1970: seconds) }
            let text = try c.decode(String.self)
            guard let instant = SandboxTime.parseDateTime(text)?.instant else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "Expected an RFC 3339 date-time with offset, got '\(text)'.")
            }
            return Date(timeIntervalSince1970: instant)
        }
        return d
    }()

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(SandboxTime.formatUTC(date.timeIntervalSince1970))
        }
        return e
    }()

    struct AccountRef: Decodable {
        var provider: SandboxProvider
        var email: String
        var timeZone: String?
        var name: String?
        var redirectURI: String?
        var calendarID: String?
        var eventID: String?
        var requestsPerSecond: Double?
    }

    struct EventInsert: Decodable {
        var provider: SandboxProvider
        var email: String
        var calendarID: String?
        var event: SandboxEvent
    }

    /// The body of `POST /_sandbox/fault-seed`.
    struct FaultSeed: Decodable {
        var seed: Double
    }

    struct ConfigurationPatch: Decodable {
        var accessTokenLifetimeSeconds: Int?
        var googleUserRequestsPerMinute: Int?
        var googleProjectRequestsPerMinute: Int?
        var googleRateLimitStatus: Int?
        var googleSendsRetryAfter: Bool?
        var microsoftMailboxRequestsPer10Minutes: Int?
        var microsoftMailboxConcurrency: Int?
        var googleMaxPageSize: Int?
        var googleDefaultPageSize: Int?
        var graphDefaultPageSize: Int?
        var googleEmptyPageEvery: Int?
    }

    static func ok<T: Encodable>(_ value: T, status: Int = 200) -> APIResponse {
        guard let data = try? encoder.encode(value) else { return fail(500, "could not encode the answer") }
        return APIResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(data))
    }

    static func fail(_ status: Int, _ message: String) -> APIResponse {
        .json(status, ["error": .string(message)])
    }

    static func decode<T: Decodable>(_ type: T.Type, _ request: APIRequest) -> Result<T, APIResponse> {
        do {
            return .success(try decoder.decode(T.self, from: Data(request.body)))
        } catch {
            return .failure(fail(400, "invalid JSON body for \(T.self): \(error)"))
        }
    }

    /// A reference from the query string (GET/DELETE) or the JSON body.
    static func reference(_ request: APIRequest) -> Result<AccountRef, APIResponse> {
        if request.body.isEmpty {
            guard let p = request.query("provider").flatMap(SandboxProvider.init(rawValue:)), let email = request.query("email") else {
                return .failure(fail(400, "provider (google|microsoft) and email are required"))
            }
            return .success(AccountRef(
                provider: p, email: email, timeZone: nil, name: nil, redirectURI: request.query("redirectURI"),
                calendarID: request.query("calendarID"), eventID: request.query("eventID"), requestsPerSecond: nil))
        }
        return decode(AccountRef.self, request)
    }

    /// Adds the control endpoints under `/_sandbox`; an unknown one is 404 with a message naming it.
    static func addRoutes(to router: Router<SandboxRequestContext>, sandbox: Sandbox) {
        let control = router.group(RouterPath(SandboxService.Mount.control))
        func add(
            _ method: HTTPRequest.Method, _ path: RouterPath,
            _ answer: @escaping @Sendable (APIRequest, Parameters) -> APIResponse
        ) {
            control.on(path, method: method) { _, context in answer(context.api, context.parameters) }
        }
        addRecurrenceRoutes(to: control, sandbox: sandbox)
        add(.post, "reset") { _, _ in
            sandbox.reset()
            return .empty(204)
        }
        add(.post, "accounts") { request, _ in
            withRef(request) { ref in ok(sandbox.createAccount(ref.provider, email: ref.email, timeZone: ref.timeZone ?? "UTC"), status: 201) }
        }
        add(.post, "calendars") { request, _ in
            withRef(request) { ref in
                guard exists(sandbox, ref) else { return fail(404, "unknown account") }
                return ok(["id": sandbox.addCalendar(ref.provider, email: ref.email, name: ref.name ?? "Calendar")], status: 201)
            }
        }
        add(.post, "authorization-codes") { request, _ in
            withRef(request) { ref in
                guard exists(sandbox, ref) else { return fail(404, "unknown account") }
                guard let redirect = ref.redirectURI else { return fail(400, "redirectURI is required") }
                return ok(["code": sandbox.issueAuthorizationCode(ref.provider, email: ref.email, redirectURI: redirect)], status: 201)
            }
        }
        add(.post, "tokens") { request, _ in
            withRef(request) { ref in
                guard let tokens = sandbox.issueTokens(ref.provider, email: ref.email) else { return fail(404, "unknown account") }
                return ok(["access_token": tokens.accessToken, "refresh_token": tokens.refreshToken] as [String: String], status: 201)
            }
        }
        add(.post, "revoke-refresh-tokens") { request, _ in
            withRef(request) { ref in
                sandbox.revokeRefreshTokens(ref.provider, email: ref.email)
                return .empty(204)
            }
        }
        add(.post, "expire-access-tokens") { request, _ in
            withRef(request) { ref in
                sandbox.expireAccessTokens(ref.provider, email: ref.email)
                return .empty(204)
            }
        }
        add(.post, "invalidate-sync-tokens") { request, _ in
            withRef(request) { ref in
                sandbox.invalidateSyncTokens(ref.provider, email: ref.email)
                return .empty(204)
            }
        }
        add(.post, "quota") { request, _ in
            withRef(request) { ref in
                sandbox.setQuota(ref.provider, email: ref.email, requestsPerSecond: ref.requestsPerSecond)
                return .empty(204)
            }
        }
        add(.post, "events") { request, _ in
            switch decode(EventInsert.self, request) {
            case .failure(let r): return r
            case .success(let insert):
                let ref = AccountRef(provider: insert.provider, email: insert.email, calendarID: insert.calendarID)
                guard let cal = resolvedCalendarID(sandbox, ref) else { return fail(404, "unknown account or calendar") }
                let id = sandbox.insertEvent(insert.provider, email: insert.email, calendarID: cal, insert.event)
                guard !id.isEmpty else { return fail(400, "the event was refused (duplicate id or invalid times)") }
                return ok(["id": id], status: 201)
            }
        }
        add(.get, "events") { request, _ in
            withRef(request) { ref in
                guard let cal = resolvedCalendarID(sandbox, ref) else { return fail(404, "unknown account or calendar") }
                return ok(sandbox.events(ref.provider, email: ref.email, calendarID: cal, includeDeleted: request.query("includeDeleted") == "true"))
            }
        }
        add(.patch, "events") { request, _ in
            guard let body = request.jsonObject, let patch = body["event"]?.objectValue else {
                return fail(400, "a JSON body with provider, email, calendarID, eventID and event (fields to change) is required")
            }
            return withRef(request) { ref in
                guard let cal = resolvedCalendarID(sandbox, ref), let eventID = ref.eventID else { return fail(404, "unknown account, calendar or event") }
                var failure: String?
                sandbox.updateEvent(ref.provider, email: ref.email, calendarID: cal, eventID: eventID) { event in
                    guard let data = try? encoder.encode(event), case .object(var current)? = try? decoder.decode(JSONValue.self, from: data)
                    else { return }
                    for (k, v) in patch { current[k] = v }
                    do {
                        event = try decoder.decode(SandboxEvent.self, from: encoder.encode(JSONValue.object(current)))
                    } catch {
                        failure = "invalid event fields: \(error)"
                    }
                }
                return failure.map { fail(400, $0) } ?? .empty(204)
            }
        }
        add(.delete, "events") { request, _ in
            withRef(request) { ref in
                guard let cal = resolvedCalendarID(sandbox, ref), let eventID = ref.eventID else { return fail(404, "unknown account, calendar or event") }
                sandbox.deleteEvent(ref.provider, email: ref.email, calendarID: cal, eventID: eventID)
                return .empty(204)
            }
        }
        add(.post, "faults") { request, _ in
            switch decode(SandboxFault.self, request) {
            case .failure(let r): return r
            case .success(let fault): return ok(["id": sandbox.addFault(fault)], status: 201)
            }
        }
        add(.delete, "faults") { _, _ in
            sandbox.clearFaults()
            return .empty(204)
        }
        add(.delete, "faults/:faultID") { _, parameters in
            sandbox.removeFault(id: parameters.decoded("faultID"))
            return .empty(204)
        }
        add(.post, "fault-seed") { request, _ in
            guard let seed = try? decoder.decode(FaultSeed.self, from: Data(request.body)).seed, seed >= 0 else {
                return fail(400, "a JSON body {\"seed\": N} with a non-negative integer is required")
            }
            sandbox.seedFaults(UInt64(seed))
            return .empty(204)
        }
        add(.get, "early-requests") { _, _ in ok(sandbox.earlyRequests()) }
        add(.get, "requests") { _, _ in ok(sandbox.requests()) }
        add(.delete, "requests") { _, _ in
            sandbox.clearRequests()
            return .empty(204)
        }
        add(.patch, "configuration") { request, _ in
            switch decode(ConfigurationPatch.self, request) {
            case .failure(let r): return r
            case .success(let p):
                sandbox.updateConfiguration { c in
                    if let v = p.accessTokenLifetimeSeconds { c.accessTokenLifetime = .seconds(v) }
                    if let v = p.googleUserRequestsPerMinute { c.googleUserRequestsPerMinute = v }
                    if let v = p.googleProjectRequestsPerMinute { c.googleProjectRequestsPerMinute = v > 0 ? v : nil }
                    if let v = p.googleRateLimitStatus { c.googleRateLimitStatus = v }
                    if let v = p.googleSendsRetryAfter { c.googleSendsRetryAfter = v }
                    if let v = p.microsoftMailboxRequestsPer10Minutes { c.microsoftMailboxRequestsPer10Minutes = v }
                    if let v = p.microsoftMailboxConcurrency { c.microsoftMailboxConcurrency = v }
                    if let v = p.googleMaxPageSize { c.googleMaxPageSize = v }
                    if let v = p.googleDefaultPageSize { c.googleDefaultPageSize = v }
                    if let v = p.graphDefaultPageSize { c.graphDefaultPageSize = v }
                    if let v = p.googleEmptyPageEvery { c.googleEmptyPageEvery = v > 0 ? v : nil }
                }
                return .empty(204)
            }
        }
    }

    /// Whether the referenced account exists.
    static func exists(_ sandbox: Sandbox, _ ref: AccountRef) -> Bool {
        sandbox.state.withLock { $0.account(ref.provider, ref.email) != nil }
    }

    /// The referenced calendar's id (the primary one when omitted or `primary`); nil when unknown.
    static func resolvedCalendarID(_ sandbox: Sandbox, _ ref: AccountRef) -> String? {
        sandbox.state.withLock { s -> String? in
            guard let account = s.account(ref.provider, ref.email) else { return nil }
            guard let id = ref.calendarID, id != "primary" else { return account.primaryCalendarID }
            return account.calendars[id] != nil ? id : nil
        }
    }

    /// Runs `body` with the reference of the request, or answers why it has none.
    static func withRef(_ request: APIRequest, _ body: (AccountRef) -> APIResponse) -> APIResponse {
        switch reference(request) {
        case .success(let ref): return body(ref)
        case .failure(let response): return response
        }
    }

    /// The answer for a control path or method the router does not know.
    static func unknownEndpoint(_ request: APIRequest) -> APIResponse {
        let path = request.path.dropFirst(SandboxService.Mount.control.count)
            .split(separator: "/", omittingEmptySubsequences: true)
            .map { $0.contains("%") ? String($0).removingPercentEncoding ?? String($0) : String($0) }
            .joined(separator: "/")
        return fail(404, "unknown control endpoint \(request.method) /_sandbox/\(path)")
    }
}

extension ControlAPI.AccountRef {
    init(provider: SandboxProvider, email: String, calendarID: String?) {
        self.init(
            provider: provider, email: email, timeZone: nil, name: nil, redirectURI: nil, calendarID: calendarID,
            eventID: nil, requestsPerSecond: nil)
    }
}
