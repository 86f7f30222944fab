import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import Logging
import Mustache
import NIOCore
import NIOPosix

/// `calsync console`: the operators' web page. Pages are rendered on the server from Mustache templates;
/// every page needs a login, every action is a POST with the session's CSRF token and is published as `ops.action`.
package final class Console: Sendable {
    let configuration: ConsoleConfiguration
    let passwordHash: String
    let queue: JobQueue
    let connections: ConnectionsReader
    let jobTypes: [String]
    let sessions: ConsoleSessions
    let loginGuard: LoginGuard
    let events: OpsEvents
    let library: MustacheLibrary
    let logger: Logger

    /// The session cookie's name.
    static let sessionCookie = "calsync_console"
    /// The login form's CSRF cookie (double submit: the form carries the same value).
    static let loginCookie = "calsync_console_login"

    /// Creates the console; throws `ConsoleError` (`no_password_hash`) without a bcrypt hash.
    package init(
        configuration: ConsoleConfiguration, queue: JobQueue, connections: ConnectionsReader, jobTypes: [String], logger: Logger
    ) throws {
        let hash = try Self.passwordHash(configuration)
        let prefix = queue.configuration.prefix
        self.configuration = configuration
        self.passwordHash = hash
        self.queue = queue
        self.connections = connections
        self.jobTypes = jobTypes
        self.sessions = ConsoleSessions(redis: queue.redis, prefix: prefix, lifetime: configuration.sessionLifetime)
        self.loginGuard = LoginGuard(
            redis: queue.redis, prefix: prefix, attemptsPerMinute: configuration.loginAttemptsPerMinute,
            lockoutFailures: configuration.lockoutFailures, lockout: configuration.lockout)
        self.events = OpsEvents(redis: queue.redis, prefix: prefix)
        var library = MustacheLibrary()
        for (name, text) in ConsoleTemplates.all { try library.register(text, named: name) }
        self.library = library
        self.logger = logger
    }

    /// The configured bcrypt hash; throws `no_password_hash` with what to do when it is unset or malformed.
    package static func passwordHash(_ configuration: ConsoleConfiguration) throws -> String {
        guard let hash = configuration.passwordHash, isBcryptHash(hash) else {
            throw ConsoleError(
                code: .noPasswordHash,
                message: configuration.passwordHash == nil
                    ? "calsync console: CALSYNC_CONSOLE_PASSWORD_HASH is not set; the console refuses to start without a "
                        + "password. Make one with `calsync console hash-password` and set CALSYNC_CONSOLE_PASSWORD_HASH to it"
                    : "calsync console: CALSYNC_CONSOLE_PASSWORD_HASH is not a bcrypt hash ($2b$…, 60 characters); make one "
                        + "with `calsync console hash-password`")
        }
        return hash
    }

    /// Whether `text` looks like a bcrypt hash (`$2a$`/`$2b$`/`$2y$`, cost, 53 characters of salt and hash).
    package static func isBcryptHash(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 60, text.hasPrefix("$2a$") || text.hasPrefix("$2b$") || text.hasPrefix("$2y$") else { return false }
        return bytes[6] == UInt8(ascii: "$")
    }

    /// A bcrypt hash of `password` (cost 12) for `CALSYNC_CONSOLE_PASSWORD_HASH`.
    package static func hashPassword(_ password: String) -> String { Bcrypt.hash(password, cost: 12) }

    /// The HTTP application serving the console on the configured host and port (a `Service`).
    package func makeApplication(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    /// The routes: pages, actions, the style sheet and the script.
    package func makeRouter() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: ServerTimingMiddleware())
        router.get("/static/console.css") { _, _ in Self.asset(ConsoleTemplates.css, type: "text/css; charset=utf-8") }
        router.get("/static/console.js") { _, _ in Self.asset(ConsoleTemplates.javascript, type: "text/javascript; charset=utf-8") }
        router.get("/login") { request, _ in self.loginPage(request, problem: nil) }
        router.post("/login") { request, _ in try await self.login(request) }
        router.post("/logout") { request, _ in try await self.action(request) { _, _ in try await self.logout(request) } }
        router.get("/") { request, _ in try await self.page(request) { try await self.overviewPage($0) } }
        router.get("/overview/table") { request, _ in try await self.overviewTable(request) }
        router.get("/workers") { request, _ in try await self.page(request) { try await self.workersPage($0) } }
        router.get("/dead") { request, _ in try await self.page(request) { try await self.deadPage($0, request: request) } }
        router.get("/dead/show") { request, _ in try await self.page(request) { try await self.deadShowPage($0, request: request) } }
        router.post("/dead/retry") { request, _ in try await self.action(request) { try await self.deadOne($0, $1, retry: true) } }
        router.post("/dead/purge") { request, _ in try await self.action(request) { try await self.deadOne($0, $1, retry: false) } }
        router.post("/dead/selected") { request, _ in try await self.action(request) { try await self.deadSelected($0, $1) } }
        router.post("/dead/matching") { request, _ in try await self.action(request) { try await self.deadMatching($0, $1) } }
        router.get("/connections") { request, _ in
            try await self.page(request) { try await self.connectionsPage($0, request: request) }
        }
        router.get("/connections/show") { request, _ in
            try await self.page(request) { try await self.connectionShowPage($0, request: request) }
        }
        router.post("/connections/resync") { request, _ in
            try await self.action(request) { try await self.connectionJob($0, $1, refresh: false) }
        }
        router.post("/connections/refresh-token") { request, _ in
            try await self.action(request) { try await self.connectionJob($0, $1, refresh: true) }
        }
        return router
    }

    // MARK: - Responses

    /// Headers every page carries: no caching, no framing, scripts and styles from this origin only.
    static func pageHeaders(type: String = "text/html; charset=utf-8") -> HTTPFields {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "no-store"
        headers[.contentSecurityPolicy] = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        headers[.xContentTypeOptions] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return headers
    }

    /// A static asset (style sheet, script), cacheable for 5 minutes.
    static func asset(_ text: String, type: String) -> Response {
        var headers = pageHeaders(type: type)
        headers[.cacheControl] = "max-age=300"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// A rendered template with the page headers.
    func html(_ template: String, _ values: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        let text = library.render(values, withTemplate: template) ?? ""
        return Response(status: status, headers: Self.pageHeaders(), body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Whether the request came over https (directly or through a proxy that says so).
    func isSecure(_ request: Request) -> Bool {
        if configuration.secureCookies { return true }
        if request.uri.scheme?.rawValue == "https" { return true }
        return request.headers[HTTPField.Name("X-Forwarded-Proto")!]?.lowercased() == "https"
    }

    /// A cookie of the console: HttpOnly, SameSite=Strict, Secure over https.
    func cookie(_ name: String, _ value: String, maxAge: Int, request: Request) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: isSecure(request), httpOnly: true, sameSite: .strict)
    }

    /// The session of the request's cookie, if any.
    func session(_ request: Request) async throws -> (cookie: String, session: ConsoleSession)? {
        guard let cookie = request.cookies[Self.sessionCookie]?.value else { return nil }
        return try await sessions.find(cookie).map { (cookie, $0) }
    }

    /// The values every page's head needs.
    func base(_ session: ConsoleSession, title: String, nav: String) -> [String: Any] {
        ["title": title, "session": ["operatorName": session.operatorName, "csrf": session.csrf, nav: true] as [String: Any],
         "csrf": session.csrf]
    }

    /// A page behind the login: a request without a session is sent to the login page.
    func page(_ request: Request, _ body: (ConsoleSession) async throws -> Response) async throws -> Response {
        do {
            guard let (_, session) = try await session(request) else { return .redirect(to: "/login", type: .normal) }
            return try await body(session)
        } catch let error as ConsoleError where error.code == .notFound {
            return html("message", ["title": "Not found", "heading": "Not found", "text": error.message, "back": "/"], status: .notFound)
        } catch {
            return unavailable(error)
        }
    }

    /// The page shown when Redis or PostgreSQL fails (503); the log says why.
    func unavailable(_ error: any Error) -> Response {
        logger.warning("console request failed", metadata: ["error": "\(error)"])
        return html(
            "message",
            ["title": "Unavailable", "heading": "Unavailable", "text": "Redis or PostgreSQL did not answer; try again.", "back": "/"],
            status: .serviceUnavailable)
    }

    /// An action: needs a session and the session's CSRF token in the form (403 otherwise); the form is decoded once.
    func action(_ request: Request, _ body: (ConsoleSession, ActionForm) async throws -> Response) async throws -> Response {
        do {
            let form = try await Self.form(request, as: ActionForm.self)
            guard let (_, session) = try await session(request) else {
                return html(
                    "message", ["title": "Refused", "heading": "Refused", "text": "Sign in first.", "back": "/login"], status: .forbidden)
            }
            guard let token = form?.csrf, ConsoleSessions.sameToken(token, session.csrf) else {
                logger.notice("console action refused: missing or wrong CSRF token", metadata: ["path": "\(request.uri.path)"])
                var values = base(session, title: "Refused", nav: "")
                values["heading"] = "Refused"
                values["text"] = "This form's CSRF token is missing or wrong: nothing was done. Reload the page and try again."
                values["back"] = "/"
                return html("message", values, status: .forbidden)
            }
            return try await body(session, form!)
        } catch let error as ConsoleError {
            return html("message", ["title": "Bad request", "heading": "Bad request", "text": error.message, "back": "/"], status: .badRequest)
        } catch {
            return unavailable(error)
        }
    }

    /// Decodes a URL-encoded body (at most 1 MiB; nil when it is not a form of that shape).
    static func form<T: Decodable>(_ request: Request, as type: T.Type) async throws -> T? {
        var request = request
        let buffer = try await request.collectBody(upTo: 1 << 20)
        return try? URLEncodedFormDecoder().decode(T.self, from: String(buffer: buffer))
    }

    /// Decodes the query string (nil fields when absent).
    static func query<T: Decodable>(_ request: Request, as type: T.Type, empty: T) -> T {
        guard let query = request.uri.query, !query.isEmpty else { return empty }
        return (try? URLEncodedFormDecoder().decode(T.self, from: query)) ?? empty
    }

    /// Every field an action form may carry.
    struct ActionForm: Decodable {
        var csrf: String?
        var id: String?
        var ids: [String]?
        var action: String?
        var type: String?
        var reason: String?
        var q: String?
        var back: String?
    }

    /// Publishes an operator's action; a failure to publish is logged (the action itself already happened).
    func record(_ session: ConsoleSession, _ action: String, _ detail: String) async {
        logger.info("ops action", metadata: ["operator": "\(session.operatorName)", "action": "\(action)", "detail": "\(detail)"])
        do {
            try await events.publish(operatorName: session.operatorName, action: action, detail: detail)
        } catch {
            logger.warning("could not publish ops.action", metadata: ["action": "\(action)", "error": "\(error)"])
        }
    }

    /// Back to a console page after an action, with a notice code and count.
    static func back(_ path: String?, fallback: String, notice: String, count: Int) -> Response {
        var target = fallback
        if let path, path.hasPrefix("/"), !path.hasPrefix("//"), !path.contains("\\") { target = path }
        let separator = target.contains("?") ? "&" : "?"
        return .redirect(to: target + separator + "notice=\(notice)&n=\(count)", type: .normal)
    }

    /// The text of a notice code.
    static func noticeText(_ code: String?, count: Int) -> String? {
        switch code {
        case "retried": return "Retried \(count) dead job(s): back on their ready lists."
        case "purged": return "Purged \(count) dead job(s)."
        case "resync": return "Enqueued a full resync (import_window)."
        case "refresh": return "Enqueued a token refresh (refresh_token, forced)."
        case "gone": return "That dead job is no longer there."
        default: return nil
        }
    }
}
