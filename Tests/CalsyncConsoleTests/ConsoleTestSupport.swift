import CalsyncConsole
import CalsyncQueue
import CalsyncRedis
import CalsyncStore
import CalsyncTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Testing

/// A console over a private Redis prefix and a private, migrated PostgreSQL schema, tested in process.
struct ConsoleRig {
    let queue: JobQueue
    let redis: RedisClient
    let client: PostgresClient
    let console: Console
    let prefix: String
    let logger: Logger

    static let password = "correct horse battery"
    /// A cheap hash (cost 4) so the tests do not spend seconds in bcrypt.
    static let hash = Bcrypt.hash(password, cost: 4)

    /// Runs `body` with a fresh rig; `configure` adjusts the console's settings. `migrated`: a private PostgreSQL
    /// schema with the migrations applied (only the connection pages need one; the rest never query PostgreSQL).
    static func with(
        migrated: Bool = false, configure: (inout ConsoleConfiguration) -> Void = { _ in },
        _ body: @Sendable (ConsoleRig) async throws -> Void
    ) async throws {
        var logger = Logger(label: "calsync.test.console")
        logger.logLevel = .error
        let prefix = TestEnvironment.uniqueName("console")
        let redis = RedisClient.running(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), logger: logger, poolSize: 4)
        defer { redis.close() }
        do {
            _ = try await redis.send(["PING"])
        } catch {
            Issue.record(Comment(rawValue: TestEnvironment.missingServer("Redis", url: TestEnvironment.redisURL, underlying: error)))
            throw error
        }
        let schema = TestEnvironment.uniqueName("console")
        var databaseConfiguration = try DatabaseConfiguration(url: TestEnvironment.databaseURL, schema: schema)
        databaseConfiguration.maximumConnections = 2
        let database = Database(configuration: databaseConfiguration, logger: logger)
        var configuration = ConsoleConfiguration()
        configuration.passwordHash = hash
        configure(&configuration)
        let queue = JobQueue(redis: redis, configuration: QueueConfiguration(prefix: prefix), logger: logger)
        let console = try Console(
            configuration: configuration, queue: queue, connections: ConnectionsReader(client: database.client, logger: logger),
            jobTypes: ["import_window", "refresh_token", "diag_echo"], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            if migrated { _ = try await Migrator(database: database, logger: logger).migrate() }
            let rig = ConsoleRig(queue: queue, redis: redis, client: database.client, console: console, prefix: prefix, logger: logger)
            do {
                try await body(rig)
            } catch {
                try? await rig.drop(migrated ? schema : nil)
                throw error
            }
            try await rig.drop(migrated ? schema : nil)
        }
    }

    func drop(_ schema: String?) async throws {
        if let schema {
            try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE"), logger: logger)
        }
        let keys = try await redis.send(["KEYS", prefix + ":*"]).array?.compactMap(\.string) ?? []
        if !keys.isEmpty { _ = try await redis.send(["DEL"] + keys) }
    }

    /// Writes a dead record as the engine does (hash + index by last failure, ms).
    func addDead(id: String, type: String?, reason: String, error: String = "it failed", raw: String? = nil, atMs: Int64) async throws {
        var record: [String: Any] = [
            "id": id, "reason": reason, "error": error, "http_status": 503, "attempts": 3, "first_failed_at": atMs - 1000,
            "last_failed_at": atMs,
            "raw": raw ?? #"{"id":"\#(id)","type":"\#(type ?? "x")","payload":{"member_id":"m1"}}"#,
        ]
        if let type { record["type"] = type }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: record), as: UTF8.self)
        _ = try await redis.pipeline([
            ["HSET", "\(prefix):dead", id, json], ["ZADD", "\(prefix):dead:index", String(atMs), id],
            ["HINCRBY", "\(prefix):dead:types", type ?? "-", "1"],
        ])
    }
}

/// A response of the in-process client, with what the tests look at.
struct Page {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: String

    var location: String? { headers[.location] }
    var setCookies: [String] { headers[values: .setCookie] }

    /// The value of `name="<field>" value="…"` in the page (hidden form fields).
    func field(_ name: String) -> String? {
        guard let range = body.range(of: "name=\"\(name)\" value=\"") else { return nil }
        let rest = body[range.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }
}

/// A browser-like client over the router test framework: keeps cookies, posts forms.
final class FormClient: @unchecked Sendable {
    let client: any TestClientProtocol
    var cookies: [String: String] = [:]

    init(_ client: any TestClientProtocol) { self.client = client }

    func request(_ uri: String, method: HTTPRequest.Method = .get, form: [(String, String)]? = nil) async throws -> Page {
        var headers = HTTPFields()
        if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
        var body: ByteBuffer? = nil
        if let form {
            headers[.contentType] = "application/x-www-form-urlencoded"
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            body = ByteBuffer(
                string: form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&"))
        }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
        for cookie in response.headers[values: .setCookie] {
            let pair = cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            if pair.count == 2, !pair[1].isEmpty { cookies[String(pair[0])] = String(pair[1]) } else { cookies[String(pair[0])] = nil }
        }
        return Page(status: response.status, headers: response.headers, body: String(buffer: response.body))
    }

    /// Opens the login page and signs in.
    @discardableResult
    func login(as name: String = "Ada", password: String = ConsoleRig.password) async throws -> Page {
        let form = try await request("/login")
        let token = try #require(form.field("csrf"))
        return try await request("/login", method: .post, form: [("csrf", token), ("operator", name), ("password", password)])
    }
}
