import Foundation

extension GoogleAPI {
    /// Google's error body: `{"error":{"code","message","errors":[{"domain","reason","message",…}],"status"}}`.
    struct ErrorBody: Encodable {
        struct Detail: Encodable {
            var domain = "global"
            var reason: String
            var message: String
            var location: String?
            var locationType: String?
        }
        struct Content: Encodable {
            var code: Int
            var message: String
            var errors: [Detail]
            var status: String
        }
        var error: Content
    }

    /// Google's error body for an error.
    static func errorResponse(_ e: SandboxAPIError) -> APIResponse {
        var detail = ErrorBody.Detail(reason: e.reason, message: e.message)
        if e.status == 401 {
            detail.location = "Authorization"
            detail.locationType = "header"
        }
        let body = ErrorBody(error: .init(code: e.status, message: e.message, errors: [detail], status: statusName(e.status)))
        return .encoded(e.status, body, headers: e.headers)
    }

    static func statusName(_ status: Int) -> String {
        switch status {
        case 400: return "INVALID_ARGUMENT"
        case 401: return "UNAUTHENTICATED"
        case 403: return "PERMISSION_DENIED"
        case 404: return "NOT_FOUND"
        case 409: return "ALREADY_EXISTS"
        case 410: return "ABORTED"
        case 412: return "FAILED_PRECONDITION"
        case 429: return "RESOURCE_EXHAUSTED"
        case 503: return "UNAVAILABLE"
        case 504: return "DEADLINE_EXCEEDED"
        default: return status >= 500 ? "INTERNAL" : "INVALID_ARGUMENT"
        }
    }

    static func notFound() -> APIResponse { errorResponse(SandboxAPIError(404, "notFound", "Not Found")) }

    static func resolveCalendar(_ account: AccountState, _ id: String) -> CalendarState? {
        if id == "primary" { return account.primary }
        return account.calendars[id] ?? account.calendars[id.lowercased()]
    }

    /// `calendars.get`.
    static func calendarResource(_ calendar: CalendarState, account: AccountState) -> APIResponse {
        .json(
            200,
            [
                "kind": "calendar#calendar", "etag": .string(etag(calendar.changeSeq)), "id": .string(calendar.id),
                "summary": .string(calendar.name), "timeZone": .string(account.timeZone),
            ])
    }

    /// `events.get`, `events.patch`, `events.update` and `events.delete` (`If-Match` checked on all but GET).
    static func event(
        _ s: inout SandboxState, _ request: APIRequest, account: AccountState, calendar: CalendarState, eventID: String
    ) -> APIResponse {
        let method = request.method
        guard let existing = calendar.events[eventID] else { return notFound() }
        if method != "GET", let failed = checkIfMatch(request, existing) { return failed }
        switch method {
        case "GET":
            return .json(200, .object(existing.resource), headers: [("ETag", existing.etag)])
        case "PATCH", "PUT":
            guard let body = request.jsonObject else {
                return errorResponse(SandboxAPIError(400, "parseError", "Parse Error"))
            }
            switch write(
                state: &s, account: account, calendar: calendar, existing: existing, id: eventID, input: body,
                replace: method == "PUT")
            {
            case .success(let stored):
                Sandbox.store(stored, in: calendar, account: account)
                return .json(200, .object(stored.resource), headers: [("ETag", stored.etag)])
            case .failure(let error):
                return errorResponse(error)
            }
        case "DELETE":
            if existing.deleted { return errorResponse(SandboxAPIError(410, "deleted", "Resource has been deleted")) }
            Sandbox.markDeleted(&s, provider: .google, calendar: calendar, eventID: eventID)
            return .empty(204)
        default:
            return notFound()
        }
    }

    static func checkIfMatch(_ request: APIRequest, _ e: StoredEvent) -> APIResponse? {
        guard let header = request.header("if-match"), header != "*" else { return nil }
        if header == e.etag || "\"\(header)\"" == e.etag || header == "W/" + e.etag { return nil }
        return errorResponse(SandboxAPIError(412, "conditionNotMet", "Precondition Failed"))
    }

    static func calendarListEntry(_ calendar: CalendarState, account: AccountState) -> JSONValue {
        var entry: [String: JSONValue] = [
            "kind": "calendar#calendarListEntry", "etag": .string(etag(calendar.changeSeq)), "id": .string(calendar.id),
            "summary": .string(calendar.name), "timeZone": .string(account.timeZone), "colorId": "14",
            "backgroundColor": "#9fe1e7", "foregroundColor": "#000000", "selected": true, "accessRole": "owner",
            "defaultReminders": [],
        ]
        if calendar.isPrimary { entry["primary"] = true }
        return .object(entry)
    }

    static func calendarList(_ account: AccountState) -> APIResponse {
        let items = account.calendarOrder.compactMap { account.calendars[$0] }.map {
            calendarListEntry($0, account: account)
        }
        return .json(
            200,
            [
                "kind": "calendar#calendarList", "etag": .string(etag(account.calendarOrder.count)),
                "nextSyncToken": .string(OpaqueToken.make(["cl", String(account.calendarOrder.count)])), "items": .array(items),
            ])
    }

    static func insert(_ s: inout SandboxState, _ request: APIRequest, account: AccountState, calendar: CalendarState) -> APIResponse {
        guard let body = request.jsonObject else {
            return errorResponse(SandboxAPIError(400, "parseError", "Parse Error"))
        }
        let id: String
        if let given = body["id"] {
            guard let text = given.stringValue, isValidID(text) else {
                return errorResponse(SandboxAPIError(400, "invalid", "Invalid resource id value."))
            }
            guard calendar.events[text] == nil else {
                return errorResponse(SandboxAPIError(409, "duplicate", "The requested identifier already exists."))
            }
            id = text
        } else {
            id = newEventID()
        }
        switch write(state: &s, account: account, calendar: calendar, existing: nil, id: id, input: body, replace: true) {
        case .success(let stored):
            Sandbox.store(stored, in: calendar, account: account)
            return .json(200, .object(stored.resource), headers: [("ETag", stored.etag)])
        case .failure(let error):
            return errorResponse(error)
        }
    }

    static func parseInstant(_ text: String?, name: String) -> Result<Double?, SandboxAPIError> {
        guard let text else { return .success(nil) }
        guard let parsed = SandboxTime.parseDateTime(text), let instant = parsed.instant else {
            return .failure(SandboxAPIError(400, "badRequest", "Bad Request: \(name) must be an RFC 3339 timestamp with a time zone offset."))
        }
        return .success(instant)
    }

    static let incrementalForbidden = [
        "timeMin", "timeMax", "orderBy", "q", "updatedMin", "privateExtendedProperty", "sharedExtendedProperty", "iCalUID",
    ]

    /// `events.list`: full listing (window, paging) and incremental sync.
    static func list(_ s: inout SandboxState, _ request: APIRequest, account: AccountState, calendar: CalendarState) -> APIResponse {
        let config = s.configuration
        let syncToken = request.query("syncToken")
        if syncToken != nil {
            for name in incrementalForbidden where request.query(name) != nil {
                return errorResponse(SandboxAPIError(400, "invalid", "Sync token is not compatible with the parameter \(name)."))
            }
        }
        var pageSize = config.googleDefaultPageSize
        if let text = request.query("maxResults") {
            guard let n = Int(text), n >= 1 else {
                return errorResponse(SandboxAPIError(400, "invalid", "Invalid value '\(text)'. Values must be within the range: [1, \(config.googleMaxPageSize)]"))
            }
            pageSize = min(n, config.googleMaxPageSize)
        }
        let timeMin: Double?
        let timeMax: Double?
        switch parseInstant(request.query("timeMin"), name: "timeMin") {
        case .success(let v): timeMin = v
        case .failure(let e): return errorResponse(e)
        }
        switch parseInstant(request.query("timeMax"), name: "timeMax") {
        case .success(let v): timeMax = v
        case .failure(let e): return errorResponse(e)
        }
        if let timeMin, let timeMax, timeMax <= timeMin {
            return errorResponse(SandboxAPIError(400, "timeRangeEmpty", "The specified time range is empty."))
        }
        for name in ["showDeleted", "singleEvents"] {
            if let v = request.query(name), v != "true", v != "false" {
                return errorResponse(SandboxAPIError(400, "invalid", "Invalid value for: \(name)"))
            }
        }
        let showDeleted = request.query("showDeleted") == "true"
        let singleEvents = request.query("singleEvents") == "true"
        let orderBy = request.query("orderBy")
        if let orderBy {
            guard orderBy == "startTime" || orderBy == "updated" else {
                return errorResponse(SandboxAPIError(400, "invalid", "Invalid value for: orderBy"))
            }
            if orderBy == "startTime", !singleEvents {
                return errorResponse(SandboxAPIError(400, "badRequest", "The requested ordering is not available for the particular query."))
            }
        }
        var propertyFilter: [(String, String)] = []
        for (k, v) in request.queryItems where k == "privateExtendedProperty" {
            let parts = v.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                return errorResponse(SandboxAPIError(400, "invalid", "Invalid value for: privateExtendedProperty"))
            }
            propertyFilter.append((parts[0], parts[1]))
        }
        let signature = [String(showDeleted), String(singleEvents), request.query("timeMin") ?? "", request.query("timeMax") ?? "",
                         orderBy ?? "", propertyFilter.map { "\($0.0)=\($0.1)" }.joined(separator: ",")].joined(separator: "|")

        // Position: from a page token, a sync token, or the start.
        var mode = orderBy == nil ? "full" : "sorted"
        var since = 0
        var snapshot = calendar.changeSeq
        var cursor = 0
        var pageIndex = 0
        if let pageToken = request.query("pageToken") {
            guard let f = OpaqueToken.read(pageToken), f.count == 9, f[0] == "gp", f[1] == calendar.id,
                let e = Int(f[3]), let si = Int(f[4]), let sn = Int(f[5]), let c = Int(f[6]), let pi = Int(f[7]),
                f[8] == signature
            else {
                return errorResponse(SandboxAPIError(400, "invalid", "Invalid page token value."))
            }
            if f[2] == "inc", e != account.syncEpoch {
                return errorResponse(SandboxAPIError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."))
            }
            mode = f[2]
            since = si
            snapshot = sn
            cursor = c
            pageIndex = pi
        } else if let syncToken {
            guard let f = OpaqueToken.read(syncToken), f.count == 4, f[0] == "gs", f[1] == calendar.id,
                let e = Int(f[2]), let sn = Int(f[3]), e == account.syncEpoch, sn <= calendar.changeSeq
            else {
                return errorResponse(SandboxAPIError(410, "fullSyncRequired", "Sync token is no longer valid, a full sync is required."))
            }
            mode = "inc"
            since = sn
        }

        func token(_ nextCursor: Int, _ nextIndex: Int) -> String {
            OpaqueToken.make(["gp", calendar.id, mode, String(account.syncEpoch), String(since), String(snapshot),
                              String(nextCursor), String(nextIndex), signature])
        }
        func matches(_ e: StoredEvent) -> Bool {
            if mode == "inc" { return e.changeSeq > since }
            if e.deleted, !showDeleted { return false }
            if let timeMin, e.endInstant <= timeMin { return false }
            if let timeMax, e.startInstant >= timeMax { return false }
            if !propertyFilter.isEmpty {
                let props = e.resource["extendedProperties"]?["private"]?.objectValue ?? [:]
                for (k, v) in propertyFilter where props[k]?.stringValue != v { return false }
            }
            return true
        }
        // singleEvents: a series stands for its instances (over the window; an incremental read: the horizon).
        func expand(_ e: StoredEvent) -> [StoredEvent] {
            guard singleEvents else { return [e] }
            let now = Sandbox.now
            let window = mode == "inc" ? nil
                : (timeMin ?? now - Sandbox.seriesHorizon.past, timeMax ?? now + Sandbox.seriesHorizon.future)
            return Sandbox.expanded(e, provider: .google, account: account, window: window)
        }
        func render(_ e: StoredEvent) -> JSONValue {
            if mode == "inc", e.deleted {
                return ["kind": "calendar#event", "etag": .string(e.etag), "id": .string(e.id), "status": "cancelled"]
            }
            return .object(e.resource)
        }

        var items: [JSONValue] = []
        var nextCursor = cursor
        var more = false
        let emptyPage = config.googleEmptyPageEvery.map { $0 > 0 && (pageIndex + 1) % $0 == 0 } ?? false
        if mode == "sorted" {
            var all = calendar.order.compactMap { calendar.events[$0] }.flatMap(expand).filter(matches)
            if orderBy == "startTime" {
                all.sort { ($0.startInstant, $0.ordinal) < ($1.startInstant, $1.ordinal) }
            } else {
                all.sort { ($0.changeSeq, $0.ordinal) < ($1.changeSeq, $1.ordinal) }
            }
            if emptyPage, cursor < all.count {
                more = true
            } else {
                let slice = all.dropFirst(cursor).prefix(pageSize)
                items = slice.map(render)
                nextCursor = cursor + slice.count
                more = nextCursor < all.count
            }
        } else if emptyPage, cursor < calendar.order.count {
            more = true
        } else {
            var i = cursor
            while i < calendar.order.count, items.count < pageSize {
                if let e = calendar.events[calendar.order[i]] {
                    for instance in expand(e) where matches(instance) { items.append(render(instance)) }
                }
                i += 1
            }
            nextCursor = i
            more = i < calendar.order.count
        }
        var body: [String: JSONValue] = [
            "kind": "calendar#events", "etag": .string(etag(calendar.changeSeq)), "summary": .string(calendar.name),
            "description": "", "updated": .string(SandboxTime.formatUTCMillis(Sandbox.now)),
            "timeZone": .string(account.timeZone), "accessRole": "owner", "defaultReminders": [], "items": .array(items),
        ]
        if more {
            body["nextPageToken"] = .string(token(nextCursor, pageIndex + 1))
        } else {
            body["nextSyncToken"] = .string(OpaqueToken.make(["gs", calendar.id, String(account.syncEpoch), String(snapshot)]))
        }
        return .json(200, .object(body))
    }

    /// `freebusy.query` over the account's own calendars.
    static func freeBusy(_ request: APIRequest, account: AccountState) -> APIResponse {
        guard let body = request.jsonObject else {
            return errorResponse(SandboxAPIError(400, "parseError", "Parse Error"))
        }
        guard let minText = body["timeMin"]?.stringValue else {
            return errorResponse(SandboxAPIError(400, "required", "Missing timeMin parameter."))
        }
        guard let maxText = body["timeMax"]?.stringValue else {
            return errorResponse(SandboxAPIError(400, "required", "Missing timeMax parameter."))
        }
        guard let lo = SandboxTime.parseDateTime(minText)?.instant, let hi = SandboxTime.parseDateTime(maxText)?.instant else {
            return errorResponse(SandboxAPIError(400, "badRequest", "Bad Request"))
        }
        guard hi > lo else { return errorResponse(SandboxAPIError(400, "timeRangeEmpty", "The specified time range is empty.")) }
        var calendars: [String: JSONValue] = [:]
        for item in body["items"]?.arrayValue ?? [] {
            guard let id = item["id"]?.stringValue else { continue }
            guard let calendar = resolveCalendar(account, id) else {
                calendars[id] = ["errors": [["domain": "global", "reason": "notFound"]], "busy": []]
                continue
            }
            var spans: [(Double, Double)] = []
            for eid in calendar.order {
                guard let e = calendar.events[eid], e.endInstant > lo, e.startInstant < hi, isBusy(e) else { continue }
                spans.append((max(lo, e.startInstant), min(hi, e.endInstant)))
            }
            spans.sort { $0.0 < $1.0 }
            var merged: [(Double, Double)] = []
            for span in spans {
                if let last = merged.last, span.0 <= last.1 {
                    merged[merged.count - 1].1 = max(last.1, span.1)
                } else {
                    merged.append(span)
                }
            }
            calendars[id] = ["busy": .array(merged.map { ["start": .string(SandboxTime.formatUTC($0.0)), "end": .string(SandboxTime.formatUTC($0.1))] })]
        }
        return .json(
            200,
            [
                "kind": "calendar#freeBusy", "timeMin": .string(SandboxTime.formatUTC(lo)),
                "timeMax": .string(SandboxTime.formatUTC(hi)), "calendars": .object(calendars),
            ])
    }
}
