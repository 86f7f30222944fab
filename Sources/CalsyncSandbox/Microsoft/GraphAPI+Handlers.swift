import Crypto
import Foundation

extension GraphAPI {
    /// Graph's error body: `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.
    struct ErrorBody: Encodable {
        struct InnerError: Encodable {
            var date: String
            var requestID: String
            var clientRequestID: String

            enum CodingKeys: String, CodingKey {
                case date
                case requestID = "request-id"
                case clientRequestID = "client-request-id"
            }
        }
        struct Content: Encodable {
            var code: String
            var message: String
            var innerError: InnerError
        }
        var error: Content
    }

    /// Graph's error body for an error.
    static func errorResponse(_ e: SandboxAPIError) -> APIResponse {
        let inner = ErrorBody.InnerError(
            date: SandboxTime.formatWall(Sandbox.now), requestID: UUID().uuidString.lowercased(),
            clientRequestID: UUID().uuidString.lowercased())
        return .encoded(e.status, ErrorBody(error: .init(code: e.reason, message: e.message, innerError: inner)), headers: e.headers)
    }

    static func notFound() -> APIResponse {
        errorResponse(SandboxAPIError(404, "ErrorItemNotFound", "The specified object was not found in the store."))
    }

    static func badRequest(_ message: String, code: String = "BadRequest") -> APIResponse {
        errorResponse(SandboxAPIError(400, code, message))
    }

    static func context(_ request: APIRequest, _ suffix: String) -> JSONValue {
        .string("https://graph.microsoft.com/v1.0/$metadata#" + suffix)
    }

    /// Graph's stable user id for an email.
    static func userID(_ email: String) -> String {
        let digest = Array(SHA256.hash(data: Data(email.utf8)))
        let hex = digest.prefix(16).map { String(format: "%02x", $0) }.joined()
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
    }

    static func calendarJSON(_ calendar: CalendarState, account: AccountState) -> JSONValue {
        [
            "id": .string(calendar.id), "name": .string(calendar.name), "color": "auto", "hexColor": "",
            "isDefaultCalendar": .bool(calendar.isPrimary), "changeKey": .string(String(calendar.changeSeq)),
            "canShare": true, "canViewPrivateItems": true, "canEdit": true, "isRemovable": .bool(!calendar.isPrimary),
            "isTallyingResponses": true, "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "owner": ["name": .string(account.email), "address": .string(account.email)],
        ]
    }

    /// The parsed `Prefer` header.
    struct Preferences {
        var timeZone: String?
        var maxPageSize: Int?
        var applied: String {
            var parts: [String] = []
            if let timeZone { parts.append("outlook.timezone=\"\(timeZone)\"") }
            if let maxPageSize { parts.append("odata.maxpagesize=\(maxPageSize)") }
            return parts.joined(separator: ", ")
        }
    }

    static func preferences(_ request: APIRequest) -> Preferences {
        var p = Preferences()
        guard let header = request.header("prefer") else { return p }
        for raw in header.split(separator: ",") {
            let part = raw.trimmingCharacters(in: .whitespaces)
            let kv = part.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2 else { continue }
            let value = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            switch kv[0].lowercased() {
            case "outlook.timezone": p.timeZone = value
            case "odata.maxpagesize": p.maxPageSize = Int(value).map { max(1, min($0, 1000)) }
            default: break
            }
        }
        return p
    }

    /// `GET /me`: the mailbox's user.
    static func profile(_ request: APIRequest, account: AccountState) -> APIResponse {
        guard request.method == "GET" else { return badRequest("Unsupported method.", code: "BadRequest") }
        let local = account.email.split(separator: "@").first.map(String.init) ?? account.email
        return .json(
            200,
            [
                "@odata.context": context(request, "users/$entity"), "id": .string(userID(account.email)),
                "displayName": .string(local), "givenName": .string(local), "surname": .null, "businessPhones": [],
                "jobTitle": .null, "mail": .string(account.email), "mobilePhone": .null, "officeLocation": .null,
                "preferredLanguage": "en-US", "userPrincipalName": .string(account.email),
            ])
    }

    /// `GET /me/calendars`.
    static func calendars(_ request: APIRequest, account: AccountState) -> APIResponse {
        guard request.method == "GET" else { return badRequest("Creating calendars is not emulated.") }
        let list = account.calendarOrder.compactMap { account.calendars[$0] }.map { calendarJSON($0, account: account) }
        return .json(200, ["@odata.context": context(request, "users('me')/calendars"), "value": .array(list)])
    }

    /// `GET /me/calendar`, `GET /me/calendars/{id}`.
    static func calendarResource(_ request: APIRequest, account: AccountState, calendar: CalendarState) -> APIResponse {
        guard request.method == "GET" else { return badRequest("Unsupported method.") }
        var json = calendarJSON(calendar, account: account)
        if case .object(var o) = json {
            o["@odata.context"] = context(request, "users('me')/calendars/$entity")
            json = .object(o)
        }
        return .json(200, json)
    }

    /// `GET` (list) or `POST` (create) the events of a calendar, or of the whole mailbox.
    static func events(
        _ s: inout SandboxState, _ request: APIRequest, account: AccountState, calendar: CalendarState, mailboxWide: Bool
    ) -> APIResponse {
        switch request.method {
        case "GET":
            let calendars = mailboxWide ? account.calendarOrder.compactMap { account.calendars[$0] } : [calendar]
            return listEvents(request, account: account, defaultPageSize: s.configuration.graphDefaultPageSize, calendars: calendars)
        case "POST": return create(&s, request, account: account, calendar: calendar)
        default: return badRequest("Unsupported method.")
        }
    }

    /// One event of a calendar (or of the whole mailbox): it must exist and not be deleted.
    static func event(
        _ s: inout SandboxState, _ request: APIRequest, account: AccountState, calendar: CalendarState, mailboxWide: Bool,
        eventID: String
    ) -> APIResponse {
        guard let owner = account.eventCalendar[eventID].flatMap({ account.calendars[$0] }),
            mailboxWide || owner === calendar,
            let existing = owner.events[eventID], !existing.deleted
        else { return notFound() }
        return eventRequest(&s, request, account: account, calendar: owner, existing: existing)
    }

    /// A Graph path the router does not know: 400 naming the first segment it could not resolve (404 for
    /// an unknown calendar), as Graph answers.
    static func unmatched(_ s: inout SandboxState, _ request: APIRequest, account email: String?) -> APIResponse {
        guard let email, let account = s.account(.microsoft, email) else {
            return errorResponse(SandboxAPIError(401, "InvalidAuthenticationToken", "Access token is empty."))
        }
        var segments = request.path.dropFirst(SandboxService.Mount.graph.count)
            .split(separator: "/", omittingEmptySubsequences: true)
            .map { $0.contains("%") ? String($0).removingPercentEncoding ?? String($0) : String($0) }
        if segments.count >= 2, segments[0] == "users",
            segments[1].lowercased() == account.email || segments[1] == userID(account.email)
        {
            segments = ["me"] + segments.dropFirst(2)
        }
        guard segments.first == "me" else {
            return badRequest("Resource not found for the segment '\(segments.first ?? "")'.")
        }
        var rest = segments.dropFirst()
        if rest.first == "calendars", rest.count >= 2 {
            guard account.calendars[rest[rest.startIndex + 1]] != nil else { return notFound() }
            rest = rest.dropFirst(2)
        } else if rest.first == "calendar" {
            rest = rest.dropFirst()
        }
        return badRequest("Resource not found for the segment '\(rest.first ?? "")'.")
    }

    static func eventRequest(
        _ s: inout SandboxState, _ request: APIRequest, account: AccountState, calendar: CalendarState, existing: StoredEvent
    ) -> APIResponse {
        let prefs = preferences(request)
        if request.method != "GET", let ifMatch = request.header("if-match"), ifMatch != "*",
            ifMatch != existing.resource["@odata.etag"]?.stringValue, ifMatch != existing.etag
        {
            return errorResponse(SandboxAPIError(412, "ErrorIrresolvableConflict", "The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item."))
        }
        switch request.method {
        case "GET":
            let options: QueryOptions
            switch queryOptions(request) {
            case .success(let o): options = o
            case .failure(let e): return errorResponse(e)
            }
            var json = render(existing, zone: prefs.timeZone, expandProperty: options.expand)
            json = select(json, options.select)
            if case .object(var o) = json {
                o["@odata.context"] = context(request, "users('me')/events/$entity")
                json = .object(o)
            }
            return .json(200, json, headers: prefs.timeZone == nil ? [] : [("Preference-Applied", prefs.applied)])
        case "PATCH":
            guard let body = request.jsonObject else { return badRequest("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.") }
            if let refusal = refuseUnknownProperties(body) { return refusal }
            switch write(state: &s, account: account, calendar: calendar, existing: existing, id: existing.id, input: body, replace: false, internalWrite: false) {
            case .success(let stored):
                Sandbox.store(stored, in: calendar, account: account)
                return .json(200, render(stored, zone: prefs.timeZone, expandProperty: nil))
            case .failure(let error):
                return errorResponse(error)
            }
        case "DELETE":
            Sandbox.markDeleted(&s, provider: .microsoft, calendar: calendar, eventID: existing.id)
            return .empty(204)
        default:
            return badRequest("Unsupported method.")
        }
    }

    /// Read-only event properties a client may echo back; Graph ignores them on writes.
    static let readOnlyFields: Set<String> = [
        "id", "changeKey", "createdDateTime", "lastModifiedDateTime", "iCalUId", "uid", "type", "webLink", "organizer",
        "isCancelled", "responseStatus", "isOrganizer", "originalStartTimeZone", "originalEndTimeZone", "bodyPreview",
        "hasAttachments", "seriesMasterId", "onlineMeeting", "onlineMeetingUrl", "onlineMeetingProvider", "occurrenceId",
        "isDraft", "cancelledOccurrences", "exceptionOccurrences",
    ]

    /// Graph refuses properties the event type does not have (`RequestBodyRead`).
    static func refuseUnknownProperties(_ body: [String: JSONValue]) -> APIResponse? {
        for key in body.keys where !writableFields.contains(key) && !readOnlyFields.contains(key)
            && key != "singleValueExtendedProperties" && key != "transactionId" && !key.hasPrefix("@odata")
        {
            return badRequest("Invalid property '\(key)'.", code: "RequestBodyRead")
        }
        return nil
    }

    static func create(_ s: inout SandboxState, _ request: APIRequest, account: AccountState, calendar: CalendarState) -> APIResponse {
        guard let body = request.jsonObject else {
            return badRequest("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.")
        }
        if let refusal = refuseUnknownProperties(body) { return refusal }
        var transactionID: String?
        if let tx = body["transactionId"], tx != .null {
            guard let text = tx.stringValue else { return badRequest("Invalid value for property 'transactionId'.") }
            if account.transactionIDs.contains(text) {
                return errorResponse(SandboxAPIError(409, "ErrorDuplicateTransactionId", "Your request can't be completed. The TransactionId specified in the request has already been used to create a different event."))
            }
            transactionID = text
        }
        let id = newID()
        switch write(state: &s, account: account, calendar: calendar, existing: nil, id: id, input: body, replace: true, internalWrite: false) {
        case .success(let stored):
            if let transactionID { account.transactionIDs.insert(transactionID) }
            Sandbox.store(stored, in: calendar, account: account)
            var json = render(stored, zone: preferences(request).timeZone, expandProperty: nil)
            if case .object(var o) = json {
                o["@odata.context"] = context(request, "users('me')/events/$entity")
                json = .object(o)
            }
            return .json(201, json, headers: [("Location", "https://graph.microsoft.com/v1.0/me/events('\(id)')")])
        case .failure(let error):
            return errorResponse(error)
        }
    }

    /// `$filter`, `$expand`, `$select`, `$top`, `$skip` of a list or get.
    struct QueryOptions {
        var propertyFilter: (id: String, value: String?)?
        var expand: ExpandFilter?
        var select: Set<String>?
        var top: Int?
        var skip = 0
    }

    static let allowedOptions: Set<String> = ["$filter", "$expand", "$select", "$top", "$skip", "$orderby", "$count"]

    static func queryOptions(_ request: APIRequest) -> Result<QueryOptions, SandboxAPIError> {
        var o = QueryOptions()
        for (k, _) in request.queryItems where k.hasPrefix("$") && !allowedOptions.contains(k) {
            return .failure(SandboxAPIError(400, "BadRequest", "Query option '\(k)' is not allowed."))
        }
        if let filter = request.query("$filter") {
            guard let parsed = ODataFilter.parseExtendedPropertyAny(filter) else {
                return .failure(SandboxAPIError(400, "ErrorInvalidUrlQueryFilter", "The sandbox only supports $filter=singleValueExtendedProperties/Any(ep: ep/id eq '…' and ep/value eq '…'); got '\(filter)'."))
            }
            o.propertyFilter = parsed
        }
        if let expand = request.query("$expand") {
            guard let parsed = ODataFilter.parseExpand(expand) else {
                return .failure(SandboxAPIError(400, "BadRequest", "Parsing OData Select and Expand failed: '\(expand)'."))
            }
            o.expand = parsed
        }
        if let select = request.query("$select") {
            o.select = Set(select.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        }
        if let top = request.query("$top") {
            guard let n = Int(top), n >= 0 else { return .failure(SandboxAPIError(400, "BadRequest", "Invalid $top value.")) }
            o.top = min(max(n, 1), 1000)
        }
        if let skip = request.query("$skip") {
            guard let n = Int(skip), n >= 0 else { return .failure(SandboxAPIError(400, "BadRequest", "Invalid $skip value.")) }
            o.skip = n
        }
        return .success(o)
    }

    static func select(_ json: JSONValue, _ fields: Set<String>?) -> JSONValue {
        guard let fields, case .object(let o) = json else { return json }
        var out: [String: JSONValue] = [:]
        for (k, v) in o where fields.contains(k) || k == "id" || k == "@odata.etag" || k == "singleValueExtendedProperties" {
            out[k] = v
        }
        return .object(out)
    }

    /// A next link: this path with the given query, absolute on the address the client used.
    static func link(_ request: APIRequest, _ query: [(String, String)]) -> String {
        request.baseURL + request.path + "?" + query.map { URLText.encode($0.0).replacingOccurrences(of: "%24", with: "$") + "=" + URLText.encode($0.1) }.joined(separator: "&")
    }

    static func listEvents(_ request: APIRequest, account: AccountState, defaultPageSize: Int, calendars: [CalendarState]) -> APIResponse {
        let options: QueryOptions
        switch queryOptions(request) {
        case .success(let o): options = o
        case .failure(let e): return errorResponse(e)
        }
        let prefs = preferences(request)
        let pageSize = options.top ?? prefs.maxPageSize ?? defaultPageSize
        var matched: [StoredEvent] = []
        for calendar in calendars {
            for id in calendar.order {
                guard let e = calendar.events[id], !e.deleted else { continue }
                if let f = options.propertyFilter {
                    guard let value = e.extendedProperties.first(where: { $0.key.caseInsensitiveCompare(f.id) == .orderedSame })?.value else { continue }
                    if let wanted = f.value, wanted != value { continue }
                }
                matched.append(e)
            }
        }
        let page = matched.dropFirst(options.skip).prefix(pageSize)
        var body: [String: JSONValue] = [
            "@odata.context": context(request, "users('me')/events"),
            "value": .array(page.map { select(render($0, zone: prefs.timeZone, expandProperty: options.expand), options.select) }),
        ]
        if options.skip + page.count < matched.count {
            var query = request.queryItems.filter { $0.0 != "$skip" }
            query.append(("$skip", String(options.skip + page.count)))
            body["@odata.nextLink"] = .string(link(request, query))
        }
        return .json(200, .object(body), headers: prefs.timeZone == nil ? [] : [("Preference-Applied", prefs.applied)])
    }

    static func parseWindowBound(_ text: String?) -> Double? {
        guard let text, let parsed = SandboxTime.parseDateTime(text) else { return nil }
        return parsed.instant ?? parsed.wallSeconds
    }

    static func calendarView(_ request: APIRequest, account: AccountState, calendar: CalendarState, defaultPageSize: Int) -> APIResponse {
        guard request.query("startDateTime") != nil, request.query("endDateTime") != nil else {
            return badRequest("This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.", code: "ErrorInvalidParameter")
        }
        guard let lo = parseWindowBound(request.query("startDateTime")), let hi = parseWindowBound(request.query("endDateTime")) else {
            return badRequest("The parameter 'startDateTime' or 'endDateTime' is not a valid date-time.", code: "ErrorInvalidParameter")
        }
        let options: QueryOptions
        switch queryOptions(request) {
        case .success(let o): options = o
        case .failure(let e): return errorResponse(e)
        }
        let prefs = preferences(request)
        let pageSize = options.top ?? prefs.maxPageSize ?? defaultPageSize
        var matched: [StoredEvent] = []
        for id in calendar.order {
            guard let stored = calendar.events[id] else { continue }
            // A series master is never listed: its occurrences and exceptions are.
            for e in Sandbox.expanded(stored, provider: .microsoft, account: account, window: (lo, hi)) {
                guard !e.deleted, e.startInstant < hi, e.endInstant > lo || (e.endInstant == e.startInstant && e.startInstant >= lo) else { continue }
                matched.append(e)
            }
        }
        matched.sort { ($0.startInstant, $0.ordinal) < ($1.startInstant, $1.ordinal) }
        let page = matched.dropFirst(options.skip).prefix(pageSize)
        var body: [String: JSONValue] = [
            "@odata.context": context(request, "users('me')/calendars('\(calendar.id)')/calendarView"),
            "value": .array(page.map { select(render($0, zone: prefs.timeZone, expandProperty: options.expand), options.select) }),
        ]
        if options.skip + page.count < matched.count {
            var query = request.queryItems.filter { $0.0 != "$skip" }
            query.append(("$skip", String(options.skip + page.count)))
            body["@odata.nextLink"] = .string(link(request, query))
        }
        let applied = prefs.applied
        return .json(200, .object(body), headers: applied.isEmpty ? [] : [("Preference-Applied", applied)])
    }

    static func syncStateNotFound() -> APIResponse {
        errorResponse(SandboxAPIError(410, "SyncStateNotFound", "The sync state is not found or has expired; do a full synchronization."))
    }

    /// `calendarView/delta`: rounds of pages ending in a deltaLink; changes since as full items or `@removed`.
    static func delta(_ request: APIRequest, account: AccountState, calendar: CalendarState, defaultPageSize: Int) -> APIResponse {
        let prefs = preferences(request)
        let pageSize = prefs.maxPageSize ?? defaultPageSize
        let lo: Double
        let hi: Double
        var since = -1
        var snapshot = calendar.changeSeq
        var cursor = 0
        let windowText: (String, String)
        if let skip = request.query("$skiptoken") {
            guard request.queryItems.count == 1 else {
                return badRequest("A $skiptoken link must be followed as returned.", code: "ErrorInvalidUrlQuery")
            }
            guard let f = OpaqueToken.read(skip), f.count == 8, f[0] == "ds", let e = Int(f[2]), let si = Int(f[3]),
                let sn = Int(f[4]), let c = Int(f[5]), let l = parseWindowBound(f[6]), let h = parseWindowBound(f[7])
            else { return badRequest("The $skiptoken is invalid.", code: "ErrorInvalidUrlQuery") }
            guard f[1] == calendar.id, e == account.syncEpoch else { return syncStateNotFound() }
            since = si
            snapshot = sn
            cursor = c
            lo = l
            hi = h
            windowText = (f[6], f[7])
        } else if let deltaToken = request.query("$deltatoken") {
            guard request.queryItems.count == 1 else {
                return badRequest("A $deltatoken link must be followed as returned.", code: "ErrorInvalidUrlQuery")
            }
            guard let f = OpaqueToken.read(deltaToken), f.count == 6, f[0] == "dd", f[1] == calendar.id,
                let e = Int(f[2]), let sn = Int(f[3]), e == account.syncEpoch, sn <= calendar.changeSeq,
                let l = parseWindowBound(f[4]), let h = parseWindowBound(f[5])
            else { return syncStateNotFound() }
            since = sn
            lo = l
            hi = h
            windowText = (f[4], f[5])
        } else {
            for (k, _) in request.queryItems where k != "startDateTime" && k != "endDateTime" {
                return badRequest("The query parameter '\(k)' is not supported with change tracking over the 'CalendarView' resource.", code: "ErrorInvalidUrlQuery")
            }
            guard let s = request.query("startDateTime"), let e = request.query("endDateTime") else {
                return badRequest("This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.", code: "ErrorInvalidParameter")
            }
            guard let l = parseWindowBound(s), let h = parseWindowBound(e) else {
                return badRequest("The parameter 'startDateTime' or 'endDateTime' is not a valid date-time.", code: "ErrorInvalidParameter")
            }
            lo = l
            hi = h
            windowText = (s, e)
        }
        func inWindow(_ e: StoredEvent) -> Bool { e.startInstant < hi && e.endInstant > lo }
        var items: [JSONValue] = []
        var i = cursor
        while i < calendar.order.count, items.count < pageSize {
            defer { i += 1 }
            guard let stored = calendar.events[calendar.order[i]] else { continue }
            for e in Sandbox.expanded(stored, provider: .microsoft, account: account, window: (lo, hi)) {
                if since < 0 {
                    guard !e.deleted, inWindow(e) else { continue }
                    items.append(render(e, zone: prefs.timeZone, expandProperty: nil))
                } else {
                    guard e.changeSeq > since else { continue }
                    if e.deleted || !inWindow(e) {
                        items.append(["@odata.type": "#microsoft.graph.event", "id": .string(e.id), "@removed": ["reason": "deleted"]])
                    } else {
                        items.append(render(e, zone: prefs.timeZone, expandProperty: nil))
                    }
                }
            }
        }
        var body: [String: JSONValue] = [
            "@odata.context": context(request, "Collection(event)"), "value": .array(items),
        ]
        if i < calendar.order.count {
            let token = OpaqueToken.make(["ds", calendar.id, String(account.syncEpoch), String(since), String(snapshot), String(i), windowText.0, windowText.1])
            body["@odata.nextLink"] = .string(link(request, [("$skiptoken", token)]))
        } else {
            let token = OpaqueToken.make(["dd", calendar.id, String(account.syncEpoch), String(snapshot), windowText.0, windowText.1])
            body["@odata.deltaLink"] = .string(link(request, [("$deltatoken", token)]))
        }
        let applied = prefs.applied
        return .json(200, .object(body), headers: applied.isEmpty ? [] : [("Preference-Applied", applied)])
    }
}
