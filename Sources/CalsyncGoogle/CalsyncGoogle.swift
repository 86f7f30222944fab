// CalsyncGoogle owns the Google Calendar v3 client behind CalsyncSync's `CalendarProvider`:
// OAuth, calendar list, idempotent event writes with deterministic ids, busy reads with sync tokens.
// It depends on CalsyncSync (types) and CalsyncHTTP (plumbing) only; nothing here knows of jobs or SQL.
import CalsyncJobs
import AsyncHTTPClient
import CalsyncHTTP
import CalsyncSync
import Foundation
import Logging

/// The Google Calendar client.
package struct GoogleCalendarProvider: CalendarProvider {
    /// Endpoints, client registration and paging.
    package struct Configuration: Sendable {
        /// The Calendar API base (default `https://www.googleapis.com/calendar/v3`).
        package var apiBaseURL: String
        /// The token endpoint (default `https://oauth2.googleapis.com/token`).
        package var tokenURL: String
        /// The OAuth client id.
        package var clientID: String
        /// The OAuth client secret.
        package var clientSecret: String
        /// `maxResults` of event reads (default 2500, Google's maximum).
        package var pageSize: Int
        /// A read that needs more pages than this is refused as a runaway (default 1000).
        package var maxPages: Int
        /// How long to back off after `quotaExceeded` when Google gives no `Retry-After` (default 30 min).
        package var quotaBackoff: Duration
        /// Request limits.
        package var http: HTTPTransport.Configuration
        /// Google's quotas: 10,000 requests per minute per project, 600 per minute per user (default).
        package var quota: ProviderQuota

        /// Creates a configuration with the documented defaults.
        package init(
            apiBaseURL: String = "https://www.googleapis.com/calendar/v3",
            tokenURL: String = "https://oauth2.googleapis.com/token",
            clientID: String, clientSecret: String,
            pageSize: Int = 2500, maxPages: Int = 1000, quotaBackoff: Duration = .seconds(1800),
            http: HTTPTransport.Configuration = .init()
        ) {
            self.apiBaseURL = apiBaseURL
            self.tokenURL = tokenURL
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.pageSize = pageSize
            self.maxPages = maxPages
            self.quotaBackoff = quotaBackoff
            self.http = http
            self.quota = ProviderQuota(appRequestsPerMinute: 10_000, connectionRequestsPerMinute: 600)
        }
    }

    /// `google`.
    package var name: String { "google" }

    let configuration: Configuration
    let transport: HTTPTransport
    let oauth: OAuthTokenClient
    let base: String
    let logger: Logger

    /// Creates a client on the app's shared `HTTPClient`.
    package init(httpClient: HTTPClient, configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.transport = HTTPTransport(client: httpClient, configuration: configuration.http, serviceName: "Google", logger: logger)
        self.oauth = OAuthTokenClient(
            transport: transport,
            configuration: .init(tokenURL: configuration.tokenURL, clientID: configuration.clientID, clientSecret: configuration.clientSecret))
        var base = configuration.apiBaseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.base = base
    }

    // MARK: OAuth

    /// Exchanges an authorization code; the account email comes from the id token or the primary calendar.
    package func exchangeCode(_ code: String, redirectURI: String) async throws -> ProviderCredentials {
        let token = try await oauth.exchange(code: code, redirectURI: redirectURI)
        var credentials = OAuthTokenClient.credentials(
            from: token, previousRefreshToken: nil, accountEmail: OAuthTokenClient.emailClaim(ofIDToken: token.id_token))
        if credentials.accountEmail == nil {
            // Google's primary calendar id is the account's email address.
            credentials.accountEmail = try await listCalendars(credentials).first(where: \.isPrimary)?.id
        }
        return credentials
    }

    /// Refreshes the access token (Google usually keeps the refresh token).
    package func refresh(_ credentials: ProviderCredentials) async throws -> ProviderCredentials {
        try await oauth.refresh(credentials)
    }

    // MARK: Calendars

    /// Lists the calendars of `users/me/calendarList` (all pages).
    package func listCalendars(_ credentials: ProviderCredentials) async throws -> [ProviderCalendar] {
        var calendars: [ProviderCalendar] = []
        var pageToken: String?
        for _ in 0..<configuration.maxPages {
            var query: [(String, String)] = [("maxResults", "250")]
            if let pageToken { query.append(("pageToken", pageToken)) }
            let result = try await call(.GET, URLEncoding.url("\(base)/users/me/calendarList", query: query), credentials)
            let page = try result.decode(GoogleCalendarListPage.self, what: "calendar list")
            for entry in page.items ?? [] {
                calendars.append(
                    ProviderCalendar(
                        id: entry.id, name: entry.summaryOverride ?? entry.summary ?? entry.id,
                        isPrimary: entry.primary ?? false, timeZone: entry.timeZone))
            }
            guard let next = page.nextPageToken, !next.isEmpty else { return calendars }
            pageToken = next
        }
        throw tooManyPages()
    }

    // MARK: Writes

    /// Creates the event under its deterministic id, or updates (and undeletes) the existing one.
    package func upsertEvent(
        _ event: RenderedEvent, key: ExportKey, calendarID: String, knownEventID: String?, credentials: ProviderCredentials
    ) async throws -> String {
        try await upsertEvent(event, key: key, calendarID: calendarID, knownEventID: knownEventID, knownETag: nil, credentials: credentials).id
    }

    /// Creates the event under its deterministic id, or updates (and undeletes) the existing one; an update of
    /// a known version is conditional (`If-Match`).
    package func upsertEvent(
        _ event: RenderedEvent, key: ExportKey, calendarID: String, knownEventID: String?, knownETag: String?,
        credentials: ProviderCredentials
    ) async throws -> WrittenEvent {
        if let knownEventID {
            do {
                return try await patch(event, eventID: knownEventID, calendarID: calendarID, ifMatch: knownETag, credentials)
            } catch let error as ProviderError where error.kind == .notFound {
                logger.debug("known Google event missing, creating it", metadata: [LogKey.exportKey: "\(key)"])
            }
        }
        let eventID = key.googleEventID
        let body = GoogleEventWrite(event, id: eventID, status: nil).jsonBytes
        let result = try await send(.POST, "\(eventsURL(calendarID))", credentials, body: body)
        if result.isSuccess {
            let created = try result.decodeIDAndETag(what: "created event")
            return WrittenEvent(id: created.id, etag: created.etag)
        }
        let error = classify(result)
        guard result.status == 409 else { throw error }
        // The id exists (maybe deleted earlier, maybe a retried create): read it, then patch it back to confirmed.
        logger.debug("Google event id exists, patching it", metadata: [LogKey.exportKey: "\(key)"])
        let current = try await call(.GET, eventURL(calendarID, eventID), credentials)
        let etag = (try? current.decodeIDAndETag(what: "event"))?.etag
        return try await patch(event, eventID: eventID, calendarID: calendarID, ifMatch: etag, credentials)
    }

    /// Patches the event (and undeletes it). With `ifMatch` the patch applies only over that version; when the
    /// event changed since (412: someone edited it, or an older request landed late), the job, which holds the
    /// appointment's lock and applies its newest revision, reads the current version and writes over it.
    private func patch(
        _ event: RenderedEvent, eventID: String, calendarID: String, ifMatch: String?, _ credentials: ProviderCredentials
    ) async throws -> WrittenEvent {
        let body = GoogleEventWrite(event, id: nil, status: "confirmed").jsonBytes
        let url = eventURL(calendarID, eventID)
        var result = try await send(.PATCH, url, credentials, body: body, ifMatch: ifMatch)
        if result.status == 412 {
            logger.debug("Google event changed since calsync wrote it; writing over its current version")
            let current = try await call(.GET, url, credentials)
            let etag = (try? current.decodeIDAndETag(what: "event"))?.etag
            result = try await send(.PATCH, url, credentials, body: body, ifMatch: etag)
        }
        guard result.isSuccess else { throw classify(result) }
        let written = try? result.decodeIDAndETag(what: "updated event")
        return WrittenEvent(id: written?.id ?? eventID, etag: written?.etag)
    }

    /// Deletes the event; 404 (never existed) and 410 (already deleted) count as success.
    package func deleteEvent(key: ExportKey, calendarID: String, knownEventID: String?, credentials: ProviderCredentials) async throws {
        try await deleteEvent(key: key, calendarID: calendarID, knownEventID: knownEventID, knownETag: nil, credentials: credentials)
    }

    /// Deletes the event, conditionally on a known version (a 412 reads the current one and deletes that).
    package func deleteEvent(
        key: ExportKey, calendarID: String, knownEventID: String?, knownETag: String?, credentials: ProviderCredentials
    ) async throws {
        let url = eventURL(calendarID, knownEventID ?? key.googleEventID)
        var result = try await send(.DELETE, url, credentials, ifMatch: knownETag)
        if result.status == 412 {
            let current = try await send(.GET, url, credentials)
            let etag = current.isSuccess ? (try? current.decodeIDAndETag(what: "event"))?.etag : nil
            result = try await send(.DELETE, url, credentials, ifMatch: etag)
        }
        if result.isSuccess || result.status == 404 || result.status == 410 { return }
        throw classify(result)
    }

    // MARK: Reads

    /// Reads the busy events of a window (all pages) and the sync token for later changes.
    package func readBusy(
        calendarID: String, window: DateInterval, memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> BusySnapshot {
        let read = try await readPages(
            calendarID: calendarID,
            query: [
                ("timeMin", ProviderTime.formatRFC3339(window.start)), ("timeMax", ProviderTime.formatRFC3339(window.end)),
            ],
            memberTimeZone: memberTimeZone, credentials: credentials)
        var snapshot = BusySnapshot(events: read.accumulator.events, cursor: read.cursor)
        snapshot.ownEvents = read.own.events
        return snapshot
    }

    /// Reads the changes since a sync token; an expired token throws `.fullResyncRequired`.
    package func readBusyChanges(
        calendarID: String, cursor: SyncCursor, memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> BusyChanges {
        let read = try await readPages(
            calendarID: calendarID, query: [("syncToken", cursor.value)], memberTimeZone: memberTimeZone, credentials: credentials)
        var changes = BusyChanges(upserts: read.accumulator.events, removedEventIDs: read.accumulator.removedIDs, cursor: read.cursor)
        changes.ownEvents = read.own.events
        return changes
    }

    private func readPages(
        calendarID: String, query fixed: [(String, String)], memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> (accumulator: BusyChangeAccumulator, own: OwnEventAccumulator, cursor: SyncCursor?) {
        let calendar = ProviderTime.calendar(in: memberTimeZone)
        var accumulator = BusyChangeAccumulator()
        var own = OwnEventAccumulator()
        var pageToken: String?
        var skipped = 0
        for _ in 0..<configuration.maxPages {
            var query = fixed
            query.append(("singleEvents", "true"))
            query.append(("maxResults", String(configuration.pageSize)))
            if let pageToken { query.append(("pageToken", pageToken)) }
            let result = try await call(.GET, URLEncoding.url(eventsURL(calendarID), query: query), credentials)
            let page = try result.decode(GoogleEventsPage.self, what: "event list")
            for item in page.items ?? [] {
                if let event = GoogleBusyRules.ownEvent(item, calendar: calendar) { own.present(event) } else { own.other(item.id) }
                switch GoogleBusyRules.classify(item, calendarID: calendarID, calendar: calendar) {
                case .busy(let event): accumulator.busy(event)
                case .notBusy: accumulator.notBusy(item.id)
                case .unreadable:
                    skipped += 1
                    accumulator.notBusy(item.id)
                }
            }
            if let next = page.nextPageToken, !next.isEmpty {
                pageToken = next
                continue
            }
            if skipped > 0 {
                logger.warning("skipped Google events with unreadable times", metadata: [LogKey.skipped: "\(skipped)"])
            }
            return (accumulator, own, page.nextSyncToken.map(SyncCursor.init))
        }
        throw tooManyPages()
    }

    // MARK: Plumbing

    func eventsURL(_ calendarID: String) -> String {
        "\(base)/calendars/\(URLEncoding.component(calendarID))/events"
    }

    func eventURL(_ calendarID: String, _ eventID: String) -> String {
        "\(eventsURL(calendarID))/\(URLEncoding.component(eventID))"
    }

    /// Sends an authorized request and returns the result whatever its status.
    func send(
        _ method: HTTPTransport.Method, _ url: String, _ credentials: ProviderCredentials, body: [UInt8]? = nil,
        ifMatch: String? = nil
    ) async throws -> HTTPResult {
        var headers = [("Authorization", "Bearer \(credentials.accessToken)")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        if let ifMatch { headers.append(("If-Match", ifMatch)) }
        return try await transport.send(method, url, headers: headers, body: body)
    }

    /// Sends an authorized request; a non-2xx answer throws its classified error.
    func call(_ method: HTTPTransport.Method, _ url: String, _ credentials: ProviderCredentials, body: [UInt8]? = nil) async throws -> HTTPResult {
        let result = try await send(method, url, credentials, body: body)
        guard result.isSuccess else { throw classify(result) }
        return result
    }

    func tooManyPages() -> ProviderError {
        .permanent(.tooManyPages, "Google kept sending pages beyond \(configuration.maxPages); the read was stopped. Narrow the import window.")
    }

    /// Classifies a non-2xx Google answer exactly as providers.md says.
    func classify(_ result: HTTPResult) -> ProviderError {
        GoogleErrorClassifier.classify(result, quotaBackoff: configuration.quotaBackoff)
    }
}
