import AsyncHTTPClient
import CalsyncCalDAV
import CalsyncHTTP
import CalsyncSync
import CalsyncTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// A real CalDAV server started by `scripts/with-services.sh` (Radicale or Xandikos on loopback).
struct CalDAVServer: Sendable, CustomStringConvertible {
    enum Kind: String, Sendable { case radicale, xandikos }
    let kind: Kind
    var description: String { kind.rawValue }

    static let radicale = CalDAVServer(kind: .radicale)
    static let xandikos = CalDAVServer(kind: .xandikos)
    static let all = [radicale, xandikos]

    /// The server's base URL, when the services script started it.
    var baseURL: String? {
        ProcessInfo.processInfo.environment[kind == .radicale ? "CALSYNC_TEST_RADICALE_URL" : "CALSYNC_TEST_XANDIKOS_URL"]
    }

    /// Whether the services script started the server.
    var isRunning: Bool { baseURL != nil }

    /// Fails the test loudly when the server is missing: the CalDAV tests need `make test` (or scripts/with-services.sh
    /// after `scripts/services.sh deps`), which installs and starts Radicale and Xandikos.
    func requireRunning() throws {
        guard isRunning else { throw CalDAVServerMissing(server: kind.rawValue) }
    }

    /// Whether the server checks passwords (Xandikos has no authentication of its own).
    var checksPasswords: Bool { kind == .radicale }

    /// Radicale's htpasswd file (plain text): tests add users and change passwords.
    static var radicaleUsers: String? { ProcessInfo.processInfo.environment["CALSYNC_TEST_RADICALE_USERS"] }
}

/// A user with a fresh calendar of their own on one server.
struct CalDAVAccount: Sendable {
    let server: CalDAVServer
    let username: String
    var password: String
    /// The base URL to connect with.
    let serverURL: String
    /// The absolute URL of the account's test calendar (with a trailing slash).
    let calendarURL: String

    var credentials: ProviderCredentials {
        ProviderCredentials(accessToken: password, refreshToken: nil, expiresAt: .distantFuture, accountEmail: username, scope: serverURL)
    }
}

enum CalDAVTests {
    static let logger = Logger(label: "calsync.tests.caldav")

    /// An HTTP client that never follows redirects by itself (as the worker's), for the provider and the harness.
    static let http: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    static func provider(_ configuration: CalDAVConfiguration = .init(http: .init(requestTimeout: .seconds(60)))) -> CalDAVCalendarProvider {
        CalDAVCalendarProvider(httpClient: http, configuration: configuration, logger: logger)
    }

    /// Creates a user (Radicale) and a calendar of its own on the server.
    static func account(on server: CalDAVServer) async throws -> CalDAVAccount {
        let base = try requireValueImpl(server.baseURL, "server.baseURL")
        let username = TestEnvironment.uniqueName("u").lowercased()
        let password = "pw-\(UUID().uuidString)"
        let calendarPath: String
        switch server.kind {
        case .radicale:
            try setRadicalePassword(username, password)
            calendarPath = "/\(username)/cal-\(UUID().uuidString.prefix(8).lowercased())/"
        case .xandikos:
            calendarPath = "/user/calendars/\(username)/"
        }
        let account = CalDAVAccount(
            server: server, username: username, password: password, serverURL: base, calendarURL: base + calendarPath)
        let made = try await raw(
            "MKCALENDAR", account.calendarURL, account,
            body: #"<?xml version="1.0" encoding="utf-8"?><C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>calsync test</D:displayname><C:supported-calendar-component-set><C:comp name="VEVENT"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>"#)
        guard made.status == 201 else { throw HarnessError("MKCALENDAR \(account.calendarURL) answered \(made.status)") }
        return account
    }

    /// Writes (or changes) a Radicale user's password in its htpasswd file.
    static func setRadicalePassword(_ username: String, _ password: String) throws {
        _ = try requireValueImpl(CalDAVServer.radicaleUsers, "CalDAVServer.radicaleUsers")
        try RadicaleUsers.set(username, password)
    }

    struct RawAnswer: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String
    }

    /// One request straight to the server (the test's own hand in the calendar, as another client would).
    static func raw(
        _ method: String, _ url: String, _ account: CalDAVAccount, body: String? = nil, headers: [(String, String)] = []
    ) async throws -> RawAnswer {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        let pair = Data("\(account.username):\(account.password)".utf8).base64EncodedString()
        request.headers.add(name: "Authorization", value: "Basic \(pair)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: method == "PUT" ? "text/calendar; charset=utf-8" : "application/xml; charset=utf-8")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return RawAnswer(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
    }

    /// A plain VEVENT, as another calendar client would write it.
    static func vevent(uid: String, start: String, end: String, extra: [String] = []) -> String {
        (["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", "BEGIN:VEVENT", "UID:\(uid)", "DTSTAMP:20261101T000000Z",
          "DTSTART:\(start)", "DTEND:\(end)", "SUMMARY:Dentist"] + extra + ["END:VEVENT", "END:VCALENDAR"]).joined(separator: "\r\n") + "\r\n"
    }

    /// The object URLs in a calendar (PROPFIND Depth 1), absolute.
    static func objects(_ account: CalDAVAccount) async throws -> [String] {
        let answer = try await raw(
            "PROPFIND", account.calendarURL, account, body: #"<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>"#,
            headers: [("Depth", "1")])
        let base = URL(string: account.calendarURL)!
        var hrefs: [String] = []
        var rest = Substring(answer.body)
        while let open = rest.range(of: "href>") {
            rest = rest[open.upperBound...]
            guard let close = rest.range(of: "</") else { break }
            let href = String(rest[..<close.lowerBound])
            if let url = URL(string: href, relativeTo: base)?.absoluteURL, href.hasSuffix(".ics") { hrefs.append(url.absoluteString) }
        }
        return hrefs
    }
}

struct HarnessError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `#require` for values outside a test's expectation macros.
func requireValueImpl<T>(_ value: T?, _ what: String) throws -> T {
    guard let value else { throw HarnessError("\(what) is not set: run the tests through scripts/with-services.sh after scripts/services.sh deps") }
    return value
}

/// A CalDAV test ran without its server: run it through `make test`.
struct CalDAVServerMissing: Error, CustomStringConvertible {
    let server: String
    var description: String {
        "\(server) is not running: run the CalDAV tests through `make test` (scripts/services.sh deps installs it, scripts/with-services.sh starts it)"
    }
}
