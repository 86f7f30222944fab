// CalsyncMicrosoft owns the Microsoft Graph calendar client behind CalsyncSync's `CalendarProvider`:
// OAuth with rotating refresh tokens, calendars, idempotent event writes (transactionId plus a
// single-value extended property), busy reads with delta links.
// It depends on CalsyncSync (types) and CalsyncHTTP (plumbing) only; nothing here knows of jobs or SQL.
import CalsyncJobs
import AsyncHTTPClient
import CalsyncHTTP
import CalsyncSync
import Foundation
import Logging

/// The Microsoft Graph calendar client.
package struct MicrosoftCalendarProvider: CalendarProvider {
    /// Endpoints, client registration and paging.
    package struct Configuration: Sendable {
        /// The Graph base (default `https://graph.microsoft.com/v1.0`).
        package var graphBaseURL: String
        /// The token endpoint (default `https://login.microsoftonline.com/common/oauth2/v2.0/token`).
        package var tokenURL: String
        /// The OAuth client id.
        package var clientID: String
        /// The OAuth client secret.
        package var clientSecret: String
        /// Scopes of every token request; must include `offline_access` (default: offline_access, openid, email, User.Read, Calendars.ReadWrite).
        package var scope: String
        /// `Prefer: odata.maxpagesize` of reads (default 500).
        package var pageSize: Int
        /// A read that needs more pages than this is refused as a runaway (default 2000).
        package var maxPages: Int
        /// Request limits.
        package var http: HTTPTransport.Configuration
        /// Outlook's limits per app and mailbox: 10,000 requests per 10 minutes (1,000 a minute) and 4 at once (default).
        package var quota: ProviderQuota

        /// Creates a configuration with the documented defaults.
        package init(
            graphBaseURL: String = "https://graph.microsoft.com/v1.0",
            tokenURL: String = "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            clientID: String, clientSecret: String,
            scope: String = "offline_access openid email https://graph.microsoft.com/User.Read https://graph.microsoft.com/Calendars.ReadWrite",
            pageSize: Int = 500, maxPages: Int = 2000,
            http: HTTPTransport.Configuration = .init()
        ) {
            self.graphBaseURL = graphBaseURL
            self.tokenURL = tokenURL
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.scope = scope.split(separator: " ").contains("offline_access") ? scope : "offline_access " + scope
            self.pageSize = pageSize
            self.maxPages = maxPages
            self.http = http
            self.quota = ProviderQuota(connectionRequestsPerMinute: 1_000, connectionConcurrency: 4)
        }
    }

    /// `microsoft`.
    package var name: String { "microsoft" }

    let configuration: Configuration
    let transport: HTTPTransport
    let oauth: OAuthTokenClient
    let base: String
    let baseOrigin: String?
    let logger: Logger

    /// Creates a client on the app's shared `HTTPClient`.
    package init(httpClient: HTTPClient, configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.transport = HTTPTransport(client: httpClient, configuration: configuration.http, serviceName: "Microsoft", logger: logger)
        self.oauth = OAuthTokenClient(
            transport: transport,
            configuration: .init(
                tokenURL: configuration.tokenURL, clientID: configuration.clientID, clientSecret: configuration.clientSecret,
                scope: configuration.scope))
        var base = configuration.graphBaseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
        self.baseOrigin = URLEncoding.origin(base)
    }

    // MARK: OAuth

    /// Exchanges an authorization code; the account email comes from the id token or `/me`.
    package func exchangeCode(_ code: String, redirectURI: String) async throws -> ProviderCredentials {
        let token = try await oauth.exchange(code: code, redirectURI: redirectURI)
        var credentials = OAuthTokenClient.credentials(
            from: token, previousRefreshToken: nil, accountEmail: OAuthTokenClient.emailClaim(ofIDToken: token.id_token))
        if credentials.accountEmail == nil {
            let result = try await call(.GET, "\(base)/me", credentials)
            let me = try result.decode(GraphUser.self, what: "user")
            credentials.accountEmail = me.mail ?? me.userPrincipalName
        }
        return credentials
    }

    /// Refreshes the access token; the answer's rotated refresh token is in the result: store it at once.
    package func refresh(_ credentials: ProviderCredentials) async throws -> ProviderCredentials {
        try await oauth.refresh(credentials)
    }

    // MARK: Calendars

    /// Lists `/me/calendars` (all pages); the default calendar is the primary one.
    package func listCalendars(_ credentials: ProviderCredentials) async throws -> [ProviderCalendar] {
        var calendars: [ProviderCalendar] = []
        var url: String? = "\(base)/me/calendars"
        var pages = 0
        while let current = url {
            pages += 1
            guard pages <= configuration.maxPages else { throw tooManyPages() }
            let result = try await call(.GET, current, credentials)
            let page = try result.decode(GraphCalendarPage.self, what: "calendar list")
            for c in page.value {
                calendars.append(ProviderCalendar(id: c.id, name: c.name ?? c.id, isPrimary: c.isDefaultCalendar ?? false, timeZone: nil))
            }
            url = try page.nextLink.map(checkedLink)
        }
        if !calendars.contains(where: \.isPrimary) {
            let result = try await call(.GET, "\(base)/me/calendar", credentials)
            let primary = try result.decode(GraphCalendar.self, what: "default calendar")
            if let index = calendars.firstIndex(where: { $0.id == primary.id }) {
                calendars[index].isPrimary = true
            } else {
                calendars.insert(ProviderCalendar(id: primary.id, name: primary.name ?? primary.id, isPrimary: true, timeZone: nil), at: 0)
            }
        }
        return calendars
    }

    // MARK: Writes

    /// Patches the known event, else creates it with a deterministic `transactionId` (see
    /// `ExportKey.graphTransactionID`); after a duplicate transaction, a timeout or a 5xx it finds the
    /// event by its marker property and patches it. It never POSTs again under another id: when the
    /// marker search does not show the event yet, the job is retried later.
    package func upsertEvent(
        _ event: RenderedEvent, key: ExportKey, calendarID: String, knownEventID: String?, credentials: ProviderCredentials
    ) async throws -> String {
        try await upsertEvent(event, key: key, calendarID: calendarID, knownEventID: knownEventID, knownETag: nil, credentials: credentials).id
    }

    /// The same, with an update of a known version conditional on it (`If-Match`).
    package func upsertEvent(
        _ event: RenderedEvent, key: ExportKey, calendarID: String, knownEventID: String?, knownETag: String?,
        credentials: ProviderCredentials
    ) async throws -> WrittenEvent {
        var transactionID = key.graphTransactionID
        if let knownEventID {
            do {
                return try await patch(event, eventID: knownEventID, ifMatch: knownETag, credentials)
            } catch let error as ProviderError where error.kind == .notFound {
                // Deleted in the calendar: its transaction id is spent; the replacement's id derives from the gone id.
                logger.debug("known Graph event missing, creating it", metadata: [LogKey.exportKey: "\(key)"])
                transactionID = key.graphTransactionID(replacing: knownEventID)
            }
        }
        if transactionID != key.graphTransactionID || key.generation != nil {
            // A re-create: an event of an earlier, unrecorded create may still carry the marker.
            if let existing = try await findByMarker(event.markerValue, calendarID: calendarID, credentials).first {
                return try await patch(event, eventID: existing, ifMatch: nil, credentials)
            }
        }
        do {
            return try await create(event, calendarID: calendarID, transactionID: transactionID, credentials)
        } catch let error as ProviderError where Self.isDuplicateTransaction(error) || Self.outcomeUnknown(error) {
            // The create may have happened: never POST blindly again; look for the marker first.
            if let existing = try await findByMarker(event.markerValue, calendarID: calendarID, credentials).first {
                return try await patch(event, eventID: existing, ifMatch: nil, credentials)
            }
            guard Self.isDuplicateTransaction(error) else { throw error }
            // The search can lag behind a create that happened: a POST under a fresh id could duplicate the event.
            logger.debug("Graph transaction id used but its event not found yet", metadata: [LogKey.exportKey: "\(key)"])
            throw ProviderError.retryable(
                .transactionPending, status: error.httpStatus,
                "Microsoft already has a create under this appointment's transaction id but does not list the event yet; "
                    + "the job is retried later instead of risking a second event. If this persists, the event was deleted "
                    + "in Outlook: send a cancelled revision of the appointment, then the current one.")
        }
    }

    private func create(_ event: RenderedEvent, calendarID: String, transactionID: String, _ credentials: ProviderCredentials) async throws -> WrittenEvent {
        let body = GraphEventWrite(event, transactionID: transactionID).jsonBytes
        let result = try await send(.POST, "\(calendarURL(calendarID))/events", credentials, body: body)
        guard result.isSuccess else { throw classify(result) }
        let created = try result.decodeIDAndETag(etagKey: "@odata.etag", what: "created event")
        return WrittenEvent(id: created.id, etag: created.etag)
    }

    /// Patches the event. With `ifMatch` the patch applies only over that version; when the event changed
    /// since (412: someone edited it, or an older request landed late), the job, which holds the appointment's
    /// lock and applies its newest revision, reads the current version and writes over it.
    private func patch(_ event: RenderedEvent, eventID: String, ifMatch: String?, _ credentials: ProviderCredentials) async throws -> WrittenEvent {
        let body = GraphEventWrite(event, transactionID: nil).jsonBytes
        var result = try await send(.PATCH, eventURL(eventID), credentials, body: body, extraHeaders: ifMatch.map { [("If-Match", $0)] } ?? [])
        if result.status == 412 {
            logger.debug("Graph event changed since calsync wrote it; writing over its current version")
            let current = try await call(.GET, eventURL(eventID), credentials)
            let etag = (try? current.decodeIDAndETag(etagKey: "@odata.etag", what: "event"))?.etag
            result = try await send(.PATCH, eventURL(eventID), credentials, body: body, extraHeaders: etag.map { [("If-Match", $0)] } ?? [])
        }
        guard result.isSuccess else { throw classify(result) }
        let written = try? result.decodeIDAndETag(etagKey: "@odata.etag", what: "updated event")
        return WrittenEvent(id: written?.id ?? eventID, etag: written?.etag)
    }

    /// The ids of the calendar's events carrying calsync's marker with this value.
    func findByMarker(_ value: String, calendarID: String, _ credentials: ProviderCredentials) async throws -> [String] {
        let escaped = value.replacingOccurrences(of: "'", with: "''")
        let filter = "singleValueExtendedProperties/Any(ep: ep/id eq '\(ExportMarker.graphPropertyID)' and ep/value eq '\(escaped)')"
        let url = URLEncoding.url("\(calendarURL(calendarID))/events", query: [("$filter", filter), ("$select", "id")])
        let result = try await call(.GET, url, credentials)
        return try result.decode(GraphIDPage.self, what: "event search").value.map(\.id)
    }

    /// Graph picks event ids, and the transaction id changes with its generation: a late create can be a second event.
    package var lateCreateMayDuplicate: Bool { true }

    /// Deletes the appointment's events other than `eventID` (found by the marker): a create of an older
    /// generation of transaction ids that landed late; 404 counts as success.
    package func removeStrayEvents(
        key: ExportKey, calendarID: String, keeping eventID: String, credentials: ProviderCredentials
    ) async throws {
        for id in try await findByMarker(key.markerValue, calendarID: calendarID, credentials) where id != eventID {
            let result = try await send(.DELETE, eventURL(id), credentials)
            if result.isSuccess || result.status == 404 || result.status == 410 { continue }
            throw classify(result)
        }
    }

    /// Deletes the event (found by its marker when its id is unknown); 404 counts as success.
    package func deleteEvent(key: ExportKey, calendarID: String, knownEventID: String?, credentials: ProviderCredentials) async throws {
        try await deleteEvent(key: key, calendarID: calendarID, knownEventID: knownEventID, knownETag: nil, credentials: credentials)
    }

    /// Deletes the event, conditionally on a known version (a 412 reads the current one and deletes that).
    package func deleteEvent(
        key: ExportKey, calendarID: String, knownEventID: String?, knownETag: String?, credentials: ProviderCredentials
    ) async throws {
        let ids: [String]
        if let knownEventID {
            ids = [knownEventID]
        } else {
            ids = try await findByMarker(key.markerValue, calendarID: calendarID, credentials)
        }
        for id in ids {
            let condition = id == knownEventID ? knownETag : nil
            var result = try await send(.DELETE, eventURL(id), credentials, extraHeaders: condition.map { [("If-Match", $0)] } ?? [])
            if result.status == 412 {
                let current = try await send(.GET, eventURL(id), credentials)
                let etag = current.isSuccess ? (try? current.decodeIDAndETag(etagKey: "@odata.etag", what: "event"))?.etag : nil
                result = try await send(.DELETE, eventURL(id), credentials, extraHeaders: etag.map { [("If-Match", $0)] } ?? [])
            }
            if result.isSuccess || result.status == 404 || result.status == 410 { continue }
            throw classify(result)
        }
    }

    // MARK: Reads

    /// Reads the window through a fresh delta query (all pages) and keeps its delta link as the cursor.
    package func readBusy(
        calendarID: String, window: DateInterval, memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> BusySnapshot {
        let url = URLEncoding.url(
            "\(calendarURL(calendarID))/calendarView/delta",
            query: [
                ("startDateTime", ProviderTime.formatRFC3339(window.start)),
                ("endDateTime", ProviderTime.formatRFC3339(window.end)),
            ])
        let read = try await readPages(from: url, calendarID: calendarID, memberTimeZone: memberTimeZone, credentials: credentials)
        var snapshot = BusySnapshot(events: read.accumulator.events, cursor: read.cursor)
        snapshot.ownEvents = read.own.events
        return snapshot
    }

    /// Follows the stored delta link; an expired one throws `.fullResyncRequired`.
    package func readBusyChanges(
        calendarID: String, cursor: SyncCursor, memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> BusyChanges {
        let url = try checkedLink(cursor.value)
        let read = try await readPages(from: url, calendarID: calendarID, memberTimeZone: memberTimeZone, credentials: credentials)
        var changes = BusyChanges(upserts: read.accumulator.events, removedEventIDs: read.accumulator.removedIDs, cursor: read.cursor)
        changes.ownEvents = read.own.events
        return changes
    }

    /// Reads events of a window with `calendarView` (no cursor): single instances, occurrences, exceptions.
    package func readCalendarView(
        calendarID: String, window: DateInterval, memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> [BusyEvent] {
        let url = URLEncoding.url(
            "\(calendarURL(calendarID))/calendarView",
            query: [
                ("startDateTime", ProviderTime.formatRFC3339(window.start)),
                ("endDateTime", ProviderTime.formatRFC3339(window.end)),
                ("$expand", "singleValueExtendedProperties($filter=id eq '\(ExportMarker.graphPropertyID)')"),
            ])
        return try await readPages(from: url, calendarID: calendarID, memberTimeZone: memberTimeZone, credentials: credentials)
            .accumulator.events
    }

    private func readPages(
        from start: String, calendarID: String, memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> (accumulator: BusyChangeAccumulator, own: OwnEventAccumulator, cursor: SyncCursor?) {
        let calendar = ProviderTime.calendar(in: memberTimeZone)
        var accumulator = BusyChangeAccumulator()
        var own = OwnEventAccumulator()
        var url = start
        var skipped = 0
        let prefer = "outlook.timezone=\"UTC\", odata.maxpagesize=\(configuration.pageSize)"
        for _ in 0..<configuration.maxPages {
            let result = try await call(.GET, url, credentials, extraHeaders: [("Prefer", prefer)])
            let page = try result.decode(GraphEventsPage.self, what: "event list")
            for item in page.value {
                if let event = GraphBusyRules.ownEvent(item, calendar: calendar) { own.present(event) } else { own.other(item.id) }
                switch GraphBusyRules.classify(item, calendarID: calendarID, calendar: calendar) {
                case .busy(let event): accumulator.busy(event)
                case .notBusy: accumulator.notBusy(item.id)
                case .ignored: break
                case .unreadable:
                    skipped += 1
                    accumulator.notBusy(item.id)
                }
            }
            if let next = page.nextLink {
                url = try checkedLink(next)
                continue
            }
            if skipped > 0 {
                logger.warning("skipped Graph events with unreadable times", metadata: [LogKey.skipped: "\(skipped)"])
            }
            return (accumulator, own, page.deltaLink.map(SyncCursor.init))
        }
        throw tooManyPages()
    }

    // MARK: Plumbing

    func calendarURL(_ calendarID: String) -> String { "\(base)/me/calendars/\(URLEncoding.component(calendarID))" }

    func eventURL(_ eventID: String) -> String { "\(base)/me/events/\(URLEncoding.component(eventID))" }

    /// A next/delta link is followed only on the configured Graph origin: the bearer token never goes elsewhere.
    func checkedLink(_ link: String) throws -> String {
        guard let origin = URLEncoding.origin(link), origin == baseOrigin else {
            throw ProviderError.permanent(
                .untrustedLink, "Microsoft sent a paging link to another host; it was not followed. Check CALSYNC_MICROSOFT_GRAPH_URL.")
        }
        return link
    }

    /// Sends an authorized request and returns the result whatever its status.
    func send(
        _ method: HTTPTransport.Method, _ url: String, _ credentials: ProviderCredentials, body: [UInt8]? = nil,
        extraHeaders: [(String, String)] = []
    ) async throws -> HTTPResult {
        var headers = [("Authorization", "Bearer \(credentials.accessToken)")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        headers.append(contentsOf: extraHeaders)
        return try await transport.send(method, url, headers: headers, body: body)
    }

    /// Sends an authorized request; a non-2xx answer throws its classified error.
    func call(
        _ method: HTTPTransport.Method, _ url: String, _ credentials: ProviderCredentials, body: [UInt8]? = nil,
        extraHeaders: [(String, String)] = []
    ) async throws -> HTTPResult {
        let result = try await send(method, url, credentials, body: body, extraHeaders: extraHeaders)
        guard result.isSuccess else { throw classify(result) }
        return result
    }

    func tooManyPages() -> ProviderError {
        .permanent(.tooManyPages, "Microsoft kept sending pages beyond \(configuration.maxPages); the read was stopped. Narrow the import window.")
    }

    func classify(_ result: HTTPResult) -> ProviderError { GraphErrorClassifier.classify(result) }

    static func isDuplicateTransaction(_ error: ProviderError) -> Bool { error.code == .duplicateTransaction }

    /// A timeout, a dropped connection or a 5xx: the write may or may not have happened.
    static func outcomeUnknown(_ error: ProviderError) -> Bool {
        [.timeout, .networkError, .serverError, .cancelled].contains(error.code)
    }
}
