import Crypto
import Foundation
import Hummingbird
import Synchronization

/// The push endpoints: Google `events/watch` and `channels/stop`; Graph `subscriptions` (create with the
/// validation request to both URLs, PATCH to renew, DELETE); and the control API under `/_sandbox/push`.
enum SandboxPushRoutes {
    /// The longest Graph subscription on Outlook events: 10 080 minutes.
    static let graphMaxMinutes = 10_080.0
    /// The longest Google events channel: 7 days.
    static let googleMaxSeconds = 604_800.0

    static func addRoutes(to router: Router<SandboxRequestContext>, sandbox: Sandbox) {
        let google = router.group(RouterPath(SandboxService.Mount.googleAPI))
        google.post("calendars/:calendarID/events/watch", use: GoogleAPI.calendarEndpoint(sandbox) { _, request, account, calendar, _ in
            sandbox.push.withLock { p in watch(&p, request, account: account, calendar: calendar) }
        })
        google.post("channels/stop", use: GoogleAPI.endpoint(sandbox) { _, request, account, _ in
            sandbox.push.withLock { p in stop(&p, request, account: account) }
        })
        let graph = router.group(RouterPath(SandboxService.Mount.graph))
        graph.post("subscriptions") { _, context -> APIResponse in
            await subscribe(sandbox, context.api, email: context.account)
        }
        graph.on("subscriptions/:id", method: .patch, use: GraphAPI.endpoint(sandbox) { _, request, account, parameters in
            sandbox.push.withLock { p in renew(&p, request, account: account, id: parameters.decoded("id")) }
        })
        graph.on("subscriptions/:id", method: .delete, use: GraphAPI.endpoint(sandbox) { _, _, account, parameters in
            sandbox.push.withLock { p in
                let id = parameters.decoded("id")
                guard let sub = p.subscriptions[id], sub.email == account.email, sub.expiration > Sandbox.now else {
                    return subscriptionNotFound(id)
                }
                p.subscriptions[id] = nil
                return .empty(204)
            }
        })
        addControlRoutes(to: router, sandbox: sandbox)
    }

    // MARK: Google

    static func watch(_ p: inout SandboxPushState, _ request: APIRequest, account: AccountState, calendar: CalendarState) -> APIResponse {
        func bad(_ message: String, _ reason: String = "invalid") -> APIResponse {
            GoogleAPI.errorResponse(SandboxAPIError(400, reason, message))
        }
        guard let body = request.jsonObject else { return bad("Parse Error", "parseError") }
        guard let id = body["id"]?.stringValue, !id.isEmpty, id.utf8.count <= 64,
            id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_+/=".contains($0)) })
        else { return bad("Invalid channel id.", "invalidChannelId") }
        guard body["type"]?.stringValue == "web_hook" || body["type"]?.stringValue == "webhook" else {
            return bad("Invalid channel type.", "invalidChannelType")
        }
        guard let address = body["address"]?.stringValue, Sandbox.acceptableAddress(address) else {
            return bad("WebHook callback must be HTTPS: \(body["address"]?.stringValue ?? "")", "push.webhookUrlNotHttps")
        }
        let token = body["token"]?.stringValue
        if let token, token.utf8.count > 256 { return bad("The channel token is longer than 256 characters.") }
        guard p.channels[id] == nil else { return GoogleAPI.errorResponse(SandboxAPIError(400, "channelIdNotUnique", "Channel id not unique.")) }
        let now = Sandbox.now
        var expiration = now + googleMaxSeconds
        if case .object(let params)? = body["params"], let ttl = params["ttl"]?.stringValue.flatMap(Double.init) {
            expiration = min(expiration, now + ttl)
        }
        if let requested = body["expiration"]?.stringValue.flatMap(Double.init) ?? body["expiration"].flatMap(number) {
            expiration = min(expiration, requested / 1000)
        }
        let resourceID = "R" + SHA256.hash(data: Data((account.email + "/" + calendar.id).utf8)).prefix(12)
            .map { String(format: "%02x", $0) }.joined()
        p.channels[id] = WatchChannelState(
            id: id, token: token, address: address, resourceID: resourceID, email: account.email, calendarID: calendar.id,
            expiration: expiration, lastSeq: calendar.changeSeq)
        var answer: [String: JSONValue] = [
            "kind": "api#channel", "id": .string(id), "resourceId": .string(resourceID),
            "resourceUri": .string("https://www.googleapis.com/calendar/v3/calendars/\(URLText.encode(calendar.id))/events?alt=json"),
            "expiration": .string(String(Int64(expiration * 1000))),
        ]
        if let token { answer["token"] = .string(token) }
        return .json(200, .object(answer))
    }

    static func number(_ value: JSONValue) -> Double? {
        if case .number(let n) = value { return n }
        return nil
    }

    static func stop(_ p: inout SandboxPushState, _ request: APIRequest, account: AccountState) -> APIResponse {
        guard let body = request.jsonObject, let id = body["id"]?.stringValue else {
            return GoogleAPI.errorResponse(SandboxAPIError(400, "required", "Required"))
        }
        guard let channel = p.channels[id], channel.email == account.email,
            channel.resourceID == body["resourceId"]?.stringValue
        else {
            return GoogleAPI.errorResponse(SandboxAPIError(404, "notFound", "Channel '\(id)' not found for project"))
        }
        p.channels[id] = nil
        return .empty(204)
    }

    // MARK: Graph

    static func subscriptionNotFound(_ id: String) -> APIResponse {
        GraphAPI.errorResponse(SandboxAPIError(404, "ResourceNotFound", "The object was not found."))
    }

    static func subscribe(_ sandbox: Sandbox, _ request: APIRequest, email: String?) async -> APIResponse {
        guard let email else {
            return GraphAPI.errorResponse(SandboxAPIError(401, "InvalidAuthenticationToken", "Access token is empty."))
        }
        guard let body = request.jsonObject else { return GraphAPI.badRequest("Invalid request body.") }
        let changeType = body["changeType"]?.stringValue ?? ""
        let allowed: Set<Substring> = ["created", "updated", "deleted"]
        guard !changeType.isEmpty, changeType.split(separator: ",").allSatisfy({ allowed.contains($0) }) else {
            return GraphAPI.badRequest("Invalid changeType.", code: "InvalidRequest")
        }
        guard let url = body["notificationUrl"]?.stringValue, Sandbox.acceptableAddress(url) else {
            return GraphAPI.badRequest("Invalid notification url. The URL must be https.", code: "InvalidRequest")
        }
        let lifecycle = body["lifecycleNotificationUrl"]?.stringValue
        if let lifecycle, !Sandbox.acceptableAddress(lifecycle) {
            return GraphAPI.badRequest("Invalid lifecycle notification url.", code: "InvalidRequest")
        }
        let resource = (body["resource"]?.stringValue ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/")).lowercased()
        guard resource == "me/events" || (resource.hasPrefix("users/") && resource.hasSuffix("/events")) else {
            return GraphAPI.badRequest("Resource '\(resource)' is not supported by this sandbox.", code: "InvalidRequest")
        }
        let clientState = body["clientState"]?.stringValue
        if let clientState, clientState.count > 128 {
            return GraphAPI.badRequest("clientState must be at most 128 characters.", code: "InvalidRequest")
        }
        let now = Sandbox.now
        guard let expiration = body["expirationDateTime"]?.stringValue.flatMap({ SandboxTime.parseDateTime($0)?.instant }) else {
            return GraphAPI.badRequest("expirationDateTime is required.", code: "InvalidRequest")
        }
        guard expiration > now, expiration <= now + graphMaxMinutes * 60 else {
            return GraphAPI.badRequest(
                "Subscription expiration can only be \(Int(graphMaxMinutes)) minutes in the future.", code: "InvalidRequest")
        }
        // Graph validates each URL before it creates the subscription.
        for target in [url] + (lifecycle.map { [$0] } ?? []) {
            let ok = await Sandbox.validate(target)
            sandbox.push.withLock { p in
                p.log.append(
                    SandboxPushDelivery(
                        channelID: "", provider: .microsoft, kind: "validation", status: ok ? 200 : nil, attempt: 1, seconds: 0,
                        at: now))
            }
            guard ok else {
                return GraphAPI.badRequest(
                    "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request.",
                    code: "ValidationError")
            }
        }
        return sandbox.state.withLock { s in
            sandbox.push.withLock { p in
                guard let account = s.account(.microsoft, email) else { return GraphAPI.notFound() }
                let id = UUID().uuidString.lowercased()
                let seq = account.calendars.values.reduce(0) { $0 + $1.changeSeq }
                let sub = GraphSubscriptionState(
                    id: id, clientState: clientState, notificationURL: url, lifecycleURL: lifecycle, email: account.email,
                    changeType: changeType, expiration: expiration, lastSeq: seq)
                p.subscriptions[id] = sub
                return .json(201, render(sub))
            }
        }
    }

    static func renew(_ p: inout SandboxPushState, _ request: APIRequest, account: AccountState, id: String) -> APIResponse {
        guard var sub = p.subscriptions[id], sub.email == account.email, sub.expiration > Sandbox.now else {
            return subscriptionNotFound(id)
        }
        guard let body = request.jsonObject,
            let expiration = body["expirationDateTime"]?.stringValue.flatMap({ SandboxTime.parseDateTime($0)?.instant })
        else { return GraphAPI.badRequest("expirationDateTime is required.", code: "InvalidRequest") }
        guard expiration > Sandbox.now, expiration <= Sandbox.now + graphMaxMinutes * 60 else {
            return GraphAPI.badRequest(
                "Subscription expiration can only be \(Int(graphMaxMinutes)) minutes in the future.", code: "InvalidRequest")
        }
        sub.expiration = expiration
        p.subscriptions[id] = sub
        return .json(200, render(sub))
    }

    static func render(_ sub: GraphSubscriptionState) -> JSONValue {
        [
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#subscriptions/$entity",
            "id": .string(sub.id), "resource": "me/events", "changeType": .string(sub.changeType),
            "clientState": sub.clientState.map(JSONValue.string) ?? .null, "notificationUrl": .string(sub.notificationURL),
            "lifecycleNotificationUrl": sub.lifecycleURL.map(JSONValue.string) ?? .null,
            "expirationDateTime": .string(SandboxTime.formatUTC(sub.expiration)),
        ]
    }

    // MARK: control

    struct LifecycleRequest: Decodable {
        var subscriptionId: String
        var event: String
    }

    struct ExpireRequest: Decodable {
        var id: String
    }

    static func addControlRoutes(to router: Router<SandboxRequestContext>, sandbox: Sandbox) {
        let control = router.group(RouterPath(SandboxService.Mount.control + "/push"))
        control.get("channels") { _, _ in ControlAPI.ok(sandbox.pushChannels()) }
        control.get("deliveries") { _, _ in ControlAPI.ok(sandbox.pushDeliveries()) }
        control.post("faults") { _, context -> APIResponse in
            switch ControlAPI.decode(SandboxPushFaults.self, context.api) {
            case .success(let faults):
                sandbox.setPushFaults(faults)
                return .empty(204)
            case .failure(let response): return response
            }
        }
        control.post("lifecycle") { _, context -> APIResponse in
            switch ControlAPI.decode(LifecycleRequest.self, context.api) {
            case .success(let r):
                return sandbox.sendLifecycleEvent(subscriptionID: r.subscriptionId, event: r.event)
                    ? .empty(204) : ControlAPI.fail(404, "unknown subscription")
            case .failure(let response): return response
            }
        }
        control.post("expire") { _, context -> APIResponse in
            switch ControlAPI.decode(ExpireRequest.self, context.api) {
            case .success(let r):
                sandbox.expirePushChannel(id: r.id)
                return .empty(204)
            case .failure(let response): return response
            }
        }
    }
}

extension SandboxPushFaults {
    enum CodingKeys: String, CodingKey {
        case delaySeconds, dropProbability, graphDuplicates, maxAttempts, retryDelaySeconds, answerTimeoutSeconds
    }

    /// Decodes a partial set of faults: absent fields keep their defaults.
    package init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        delaySeconds = try c.decodeIfPresent(Double.self, forKey: .delaySeconds) ?? delaySeconds
        dropProbability = try c.decodeIfPresent(Double.self, forKey: .dropProbability) ?? dropProbability
        graphDuplicates = try c.decodeIfPresent(Int.self, forKey: .graphDuplicates) ?? graphDuplicates
        maxAttempts = try c.decodeIfPresent(Int.self, forKey: .maxAttempts) ?? maxAttempts
        retryDelaySeconds = try c.decodeIfPresent(Double.self, forKey: .retryDelaySeconds) ?? retryDelaySeconds
        answerTimeoutSeconds = try c.decodeIfPresent(Double.self, forKey: .answerTimeoutSeconds) ?? answerTimeoutSeconds
    }
}
