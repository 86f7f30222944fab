// CalsyncCalDAV owns the CalDAV client (RFC 4791, 6578, 6764) behind CalsyncSync's `CalendarProvider`:
// discovery, conditional object writes, window reads with calendar-query and calendar-multiget, and the
// sync-collection token as the cursor. iCalendar text is read and written by CalsyncICal (libical), never here.
// It depends on CalsyncSync (types) and CalsyncHTTP (plumbing) only; nothing here knows of jobs or SQL.
import AsyncHTTPClient
import CalsyncHTTP
import CalsyncJobs
import CalsyncSync
import Foundation
import Logging

/// The CalDAV client (Apple iCloud, Fastmail, Nextcloud, Radicale, Xandikos, any RFC 4791 server).
package struct CalDAVCalendarProvider: PasswordCalendarProvider {
    /// `caldav`.
    package var name: String { "caldav" }

    let configuration: CalDAVConfiguration
    let transport: HTTPTransport
    let logger: Logger

    /// Creates a client on the app's shared `HTTPClient` (which must not follow redirects: this client does,
    /// by its own rules).
    package init(httpClient: HTTPClient, configuration: CalDAVConfiguration = .init(), logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.transport = HTTPTransport(client: httpClient, configuration: configuration.http, serviceName: "The CalDAV server", logger: logger)
    }

    /// A password never expires by itself: credentials carry a far expiry, so no refresh is ever scheduled.
    static let noExpiry = Date(timeIntervalSince1970: 32_503_680_000)  // 3000-01-01

    // MARK: OAuth (not used)

    /// CalDAV has no authorization codes.
    package func exchangeCode(_ code: String, redirectURI: String) async throws -> ProviderCredentials {
        throw ProviderError.permanent(.badRequest, "CalDAV connects with a user name and password, not an authorization code.")
    }

    /// A refused password cannot be refreshed: the member must connect again with a new (app-specific) password.
    package func refresh(_ credentials: ProviderCredentials) async throws -> ProviderCredentials {
        throw ProviderError(
            code: .invalidCredentials, kind: .reconnectRequired, httpStatus: 401,
            message: "The CalDAV server refused the password (changed or revoked). Connect the calendar again with a new app-specific password.")
    }

    // MARK: Calendars

    /// The calendars of the account whose credentials carry the server's URL in `scope` (set at connect).
    package func listCalendars(_ credentials: ProviderCredentials) async throws -> [ProviderCalendar] {
        guard let serverURL = credentials.scope, let username = credentials.accountEmail else {
            throw ProviderError.permanent(.discoveryFailed, "These CalDAV credentials carry no server address; connect again.")
        }
        return try await connect(serverURL: serverURL, username: username, password: credentials.accessToken).calendars
    }

    /// Logs in and discovers the calendars (see ``CalDAVDiscovery``).
    package func connect(serverURL: String, username: String, password: String) async throws -> PasswordConnection {
        let credentials = ProviderCredentials(
            accessToken: password, refreshToken: nil, expiresAt: Self.noExpiry, accountEmail: username, scope: serverURL)
        let discovery = CalDAVDiscovery(client: self, credentials: credentials)
        let calendars: [ProviderCalendar]
        do {
            calendars = try await discovery.run(serverURL: serverURL)
        } catch let error as ProviderError where error.httpStatus == 401 && error.code != .invalidCredentials {
            throw discovery.refusedLogin(401)
        }
        return PasswordConnection(credentials: credentials, calendars: calendars)
    }

    // MARK: Plumbing

    /// The `Authorization` header of the credentials (Basic).
    func authorization(_ credentials: ProviderCredentials) -> String {
        let pair = "\(credentials.accountEmail ?? ""):\(credentials.accessToken)"
        return "Basic " + Data(pair.utf8).base64EncodedString()
    }

    /// Sends one request (no redirect followed); any status comes back.
    func send(
        _ method: HTTPTransport.Method, _ url: URL, _ credentials: ProviderCredentials, headers: [(String, String)] = [],
        body: String? = nil, contentType: String = "application/xml; charset=utf-8"
    ) async throws -> HTTPResult {
        var all = [("Authorization", authorization(credentials))]
        if body != nil { all.append(("Content-Type", contentType)) }
        all.append(contentsOf: headers)
        return try await transport.send(method, url.absoluteString, headers: all, body: body.map { Array($0.utf8) })
    }

    /// Sends a read (PROPFIND, REPORT, GET) and follows redirects within `scope` (``CalDAVURLPolicy``; by
    /// default the URL's own origin); returns the final answer and the URL it came from.
    func sendFollowing(
        _ method: HTTPTransport.Method, _ url: URL, _ credentials: ProviderCredentials, headers: [(String, String)] = [],
        body: String? = nil, scope: CalDAVURLPolicy.Scope? = nil
    ) async throws -> (result: HTTPResult, url: URL) {
        let scope = scope ?? .sameOrigin(url)
        guard CalDAVURLPolicy.allowed(url, in: scope) else { throw CalDAVURLPolicy.refused(scope) }
        var url = url
        for _ in 0...configuration.maxRedirects {
            let result = try await send(method, url, credentials, headers: headers, body: body)
            guard result.isRedirect, let location = result.header("Location") else { return (result, url) }
            url = try CalDAVURLPolicy.redirect(from: url, to: location, scope: scope)
        }
        throw ProviderError.permanent(
            .discoveryFailed, "The CalDAV server redirected more than \(configuration.maxRedirects) times; check the server address.")
    }

    /// PROPFIND with the given properties; a 207 answer parsed, anything else classified. `follow` follows
    /// redirects within `scope` (by default the URL's own origin).
    func propfind(
        _ url: URL, depth: Int, _ properties: [DAVName], _ credentials: ProviderCredentials, follow: Bool = false,
        scope: CalDAVURLPolicy.Scope? = nil
    ) async throws -> (DAVMultistatus, URL) {
        let body = DAVRequests.propfind(properties)
        let headers = [("Depth", String(depth))]
        let (result, finalURL) =
            follow
            ? try await sendFollowing(.PROPFIND, url, credentials, headers: headers, body: body, scope: scope)
            : (try await send(.PROPFIND, url, credentials, headers: headers, body: body), url)
        guard result.status == 207 else { throw classify(result) }
        return (try multistatus(result), finalURL)
    }

    /// Parses a 207 body; malformed XML is a classified error.
    func multistatus(_ result: HTTPResult) throws -> DAVMultistatus {
        guard let parsed = DAVMultistatusParser.parse(result.data) else {
            throw ProviderError.retryable(
                .malformedResponse, status: result.status, "The CalDAV server sent a multistatus answer that is not well-formed XML.")
        }
        return parsed
    }

    /// Classifies a non-2xx answer.
    func classify(_ result: HTTPResult) -> ProviderError {
        CalDAVErrorClassifier.classify(result)
    }

    /// An absolute URL for an href of an answer (a path, or an absolute URL) relative to the request's URL.
    static func resolve(_ href: String, against base: URL) -> URL? {
        URL(string: href, relativeTo: base)?.absoluteURL
    }

    /// The URL of a stored calendar or object id (always absolute).
    func url(_ id: String) throws -> URL {
        guard let url = URL(string: id), url.scheme != nil, url.host != nil else {
            throw ProviderError.permanent(.badRequest, "A stored CalDAV address is not an absolute URL; connect the calendar again.")
        }
        return url
    }
}

/// The CalDAV client's settings (`CALSYNC_CALDAV_*`).
package struct CalDAVConfiguration: Sendable {
    /// Objects fetched per `calendar-multiget` (`CALSYNC_CALDAV_MULTIGET_BATCH`, default 200).
    package var multigetBatch: Int
    /// Redirects followed during discovery and reads (default 5).
    package var maxRedirects: Int
    /// Concurrent requests of one connection (`CALSYNC_CALDAV_CONNECTION_CONCURRENCY`, default 4).
    package var connectionConcurrency: Int
    /// Requests per second to one CalDAV server host, over all workers (`CALSYNC_CALDAV_HOST_RATE`, default 20).
    package var hostRequestsPerSecond: Double
    /// Request limits (timeout, largest answer).
    package var http: HTTPTransport.Configuration

    /// Creates the documented defaults.
    package init(
        multigetBatch: Int = 200, maxRedirects: Int = 5, connectionConcurrency: Int = 4, hostRequestsPerSecond: Double = 20,
        http: HTTPTransport.Configuration = .init()
    ) {
        self.multigetBatch = multigetBatch
        self.maxRedirects = maxRedirects
        self.connectionConcurrency = connectionConcurrency
        self.hostRequestsPerSecond = hostRequestsPerSecond
        self.http = http
    }
}

/// Which URLs calsync sends a password to. Discovery may move to another host over https (iCloud moves the
/// principal to a `pNN-caldav.icloud.com` host); plain http only to loopback, and only when the member's own
/// server URL is loopback itself. Once a calendar is known, reads and writes stay on its own origin, and an
/// object URL must lie inside the calendar's collection.
package enum CalDAVURLPolicy {
    /// How far a sequence of requests (with its redirects and server hrefs) may move from its start.
    package enum Scope: Sendable {
        /// Discovery from the member's server URL: https anywhere, plain http only loopback-to-loopback.
        case discovery(start: URL)
        /// A stored calendar's requests: the calendar's own scheme, host and port only.
        case sameOrigin(URL)
    }

    /// Whether a host is loopback (`localhost`, `127.0.0.0/8`, `::1`).
    package static func isLoopback(_ host: String) -> Bool {
        let host = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Whether the member's server URL may be used at all: https, or plain http on loopback.
    package static func allowed(_ url: URL) -> Bool {
        allowed(url, start: url)
    }

    /// Whether calsync may send a password to `url` in a discovery that started at `start`: https to any host;
    /// plain http only when both `url` and `start` are loopback (a remote server never steers it to this machine).
    package static func allowed(_ url: URL, start: URL) -> Bool {
        guard let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty else { return false }
        if scheme == "https" { return true }
        guard scheme == "http", isLoopback(host), let startHost = start.host else { return false }
        return isLoopback(startHost)
    }

    /// Whether `url` is within `scope`.
    package static func allowed(_ url: URL, in scope: Scope) -> Bool {
        switch scope {
        case .discovery(let start): allowed(url, start: start)
        case .sameOrigin(let origin): allowed(origin) && sameOrigin(url, origin)
        }
    }

    /// Same scheme, host and port (the default port of the scheme when none is written).
    package static func sameOrigin(_ a: URL, _ b: URL) -> Bool {
        func origin(_ url: URL) -> String? {
            guard let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else { return nil }
            return "\(scheme)://\(host):\(url.port ?? (scheme == "https" ? 443 : 80))"
        }
        guard let left = origin(a) else { return false }
        return left == origin(b)
    }

    /// Whether `object` is an object of the calendar collection `calendar`: same origin, and its path lies
    /// below the collection's path (not the collection itself, no `..`).
    package static func isObject(_ object: URL, inside calendar: URL) -> Bool {
        guard allowed(calendar), sameOrigin(object, calendar) else { return false }
        var collection = calendar.path
        if !collection.hasSuffix("/") { collection += "/" }
        let path = object.path
        let components = path.split(separator: "/")
        return path.hasPrefix(collection) && path.count > collection.count && !components.contains("..") && !components.contains(".")
    }

    /// The target of a redirect, when it may be followed within `scope`.
    static func redirect(from url: URL, to location: String, scope: Scope) throws -> URL {
        guard let target = URL(string: location, relativeTo: url)?.absoluteURL, allowed(target, in: scope) else {
            throw refused(scope)
        }
        return target
    }

    /// A server href (principal, calendar home, default calendar) resolved against the answer's URL, when it
    /// lies within `scope`; otherwise the error that names the rule.
    static func href(_ href: String, against base: URL, scope: Scope) throws -> URL? {
        guard let target = URL(string: href, relativeTo: base)?.absoluteURL else { return nil }
        guard allowed(target, in: scope) else { throw refused(scope) }
        return target
    }

    /// The error for an address outside `scope` (the address itself is not named: it came from the server).
    static func refused(_ scope: Scope) -> ProviderError {
        switch scope {
        case .discovery:
            ProviderError.permanent(
                .untrustedRedirect,
                "The CalDAV server sent calsync to an address that is not https; calsync sends passwords over https only (plain http only when the server address itself is on this machine).")
        case .sameOrigin:
            ProviderError.permanent(
                .untrustedRedirect,
                "The CalDAV server sent calsync to another host than the calendar's; calsync keeps the password on the calendar's own host. Connect the calendar again.")
        }
    }
}
