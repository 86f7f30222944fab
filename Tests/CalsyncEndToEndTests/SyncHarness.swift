import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import CalsyncSandbox
import CalsyncStore
import CalsyncSync
import CalsyncTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One isolated world for an end-to-end sync test: its own Redis prefix, its own PostgreSQL schema
/// (migrated), an in-process provider sandbox, and real `calsync worker` processes pointed at all three.
final class SyncWorld: @unchecked Sendable {
    let prefix: String
    let schema: String
    let redisURL: String
    let databaseURL: String
    let redis: RedisClient
    let queue: JobQueue
    let db: PostgresClient
    let sandbox: Sandbox
    let endpoints: SandboxEndpoints
    let keyBase64: String
    let key: [UInt8]
    let logDirectory: URL
    private let lock = NSLock()
    private var workers: [SyncWorker] = []
    private var codes: [String] = []

    static let redirectURI = "https://app.example.test/oauth/callback"

    private init(
        prefix: String, schema: String, redisURL: String, databaseURL: String, redis: RedisClient, db: PostgresClient,
        sandbox: Sandbox, endpoints: SandboxEndpoints
    ) {
        self.prefix = prefix
        self.schema = schema
        self.redisURL = redisURL
        self.databaseURL = databaseURL
        self.redis = redis
        self.queue = JobQueue(redis: redis, configuration: QueueConfiguration(prefix: prefix), logger: e2eLogger)
        self.db = db
        self.sandbox = sandbox
        self.endpoints = endpoints
        self.key = (0..<32).map { _ in UInt8.random(in: 0...255) }
        self.keyBase64 = Data(key).base64EncodedString()
        self.logDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("calsync-e2e-\(prefix)")
        try? FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
    }

    /// Runs `body` in a fresh world and tears everything down afterwards (workers killed, schema dropped, keys deleted).
    /// The servers are those of `make test` unless a test brings its own (e.g. `PrivateServers` it restarts).
    static func with(
        redisURL: String = TestEnvironment.redisURL, databaseURL baseURL: String = TestEnvironment.databaseURL,
        sandbox: Sandbox = Sandbox(logger: e2eLogger), _ body: @Sendable (SyncWorld) async throws -> Void
    ) async throws {
        let prefix = TestEnvironment.uniqueName("sync")
        let schema = prefix
        let separator = baseURL.contains("?") ? "&" : "?"
        let databaseURL = baseURL + separator + "schema=" + schema
        var configuration = try DatabaseConfiguration(url: databaseURL)
        configuration.maximumConnections = 4
        let database = Database(configuration: configuration, logger: e2eLogger)
        do {
            try await database.checkConnectivity(timeout: .seconds(5))
        } catch {
            Issue.record(Comment(rawValue: TestEnvironment.missingServer("PostgreSQL", url: baseURL, underlying: error)))
            throw error
        }
        let redis = try await CalsyncEndToEndTests.connect(redisURL)
        defer { redis.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            _ = try await Migrator(database: database, logger: e2eLogger).migrate()
            try await withSandboxServer(sandbox) { endpoints in
                let world = SyncWorld(
                    prefix: prefix, schema: schema, redisURL: redisURL, databaseURL: databaseURL, redis: redis,
                    db: database.client, sandbox: sandbox, endpoints: endpoints)
                do {
                    try await body(world)
                    world.stopWorkers()
                } catch {
                    world.stopWorkers()
                    throw error
                }
                try? FileManager.default.removeItem(at: world.logDirectory)
            }
            try await database.client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE"))
            let keys = try await redis.send(["KEYS", "\(prefix):*"]).array?.compactMap(\.string) ?? []
            if !keys.isEmpty { _ = try await redis.send(["DEL"] + keys) }
        }
    }

    // MARK: workers

    /// The environment of a worker of this world.
    var workerEnvironment: [String: String] {
        [
            "CALSYNC_REDIS_URL": redisURL,
            "CALSYNC_REDIS_PREFIX": prefix,
            "CALSYNC_DATABASE_URL": databaseURL,
            "CALSYNC_ENCRYPTION_KEY": keyBase64,
            "CALSYNC_METRICS_PORT": "0",
            // A worker keeps its pool's connections open: tests run many workers side by side.
            "CALSYNC_DATABASE_MAX_CONNECTIONS": "4",
            "CALSYNC_LOG_LEVEL": "debug",
            "CALSYNC_WORKER_CONCURRENCY": "8",
            "CALSYNC_JOB_LEASE_SECONDS": "3",
            "CALSYNC_SHUTDOWN_GRACE_SECONDS": "2",
            "CALSYNC_RETRY_BASE_SECONDS": "1",
            "CALSYNC_RETRY_MAX_DELAY_SECONDS": "2",
            // Verifications after a write whose answer never came wait 2 × 5 + 5 s, not the default 90 s.
            "CALSYNC_PROVIDER_TIMEOUT_SECONDS": "5",
            "CALSYNC_PROVIDER_WRITE_SETTLE_SECONDS": "5",
            "CALSYNC_GOOGLE_CLIENT_ID": "sandbox-google-client",
            "CALSYNC_GOOGLE_CLIENT_SECRET": "sandbox-google-secret",
            "CALSYNC_GOOGLE_API_URL": endpoints.googleAPI,
            "CALSYNC_GOOGLE_TOKEN_URL": endpoints.googleToken,
            "CALSYNC_MICROSOFT_CLIENT_ID": "sandbox-microsoft-client",
            "CALSYNC_MICROSOFT_CLIENT_SECRET": "sandbox-microsoft-secret",
            "CALSYNC_MICROSOFT_GRAPH_URL": endpoints.graph,
            "CALSYNC_MICROSOFT_TOKEN_URL": endpoints.microsoftToken,
        ]
    }

    /// Starts a real `calsync worker`.
    @discardableResult
    func startWorker(_ extra: [String: String] = [:]) throws -> SyncWorker {
        let worker = try SyncWorker(
            environment: workerEnvironment.merging(extra) { $1 },
            log: logDirectory.appendingPathComponent("worker-\(UUID().uuidString.prefix(6)).log"))
        lock.withLock { workers.append(worker) }
        return worker
    }

    func stopWorkers() {
        for worker in lock.withLock({ workers }) { worker.stop() }
    }

    /// Every worker log written so far, concatenated.
    var allLogs: String {
        lock.withLock { workers }.map(\.log).joined(separator: "\n")
    }

    /// Each worker's log file name (`worker-XXXXXX`) and what it wrote so far, in start order.
    var workerLogs: [(name: String, text: String)] {
        lock.withLock { workers }.map { ($0.logURL.deletingPathExtension().lastPathComponent, $0.log) }
    }

    // MARK: data

    /// Inserts an organization (only the contract's columns) if missing.
    func organization(_ id: String = "org-1", plan: String = "pro", enabled: Bool = true) async throws {
        try await db.query(
            """
            INSERT INTO organizations (id, plan, external_calendar_sync_enabled) VALUES (\(id), \(plan), \(enabled))
            ON CONFLICT (id) DO UPDATE SET plan = EXCLUDED.plan, external_calendar_sync_enabled = EXCLUDED.external_calendar_sync_enabled
            """, logger: e2eLogger)
    }

    /// Inserts a member (only the contract's columns).
    func member(_ id: String, organization: String = "org-1", timeZone: String = "UTC") async throws {
        try await db.query(
            "INSERT INTO members (id, organization_id, time_zone) VALUES (\(id), \(organization), \(timeZone))",
            logger: e2eLogger)
    }

    /// Enqueues a job exactly as a producer would (LPUSH of the JSON text).
    @discardableResult
    func enqueue(_ type: String, _ payload: String, id: String = "job-\(UUID().uuidString.prefix(12))") async throws -> String {
        let job = #"{"id":"\#(id)","type":"\#(type)","enqueued_at":"2026-11-21T10:00:00Z","payload":\#(payload)}"#
        _ = try await redis.send(["LPUSH", "\(prefix):queue:\(type)", job])
        return id
    }

    /// Connects `member` to a new sandbox account and waits until the connection is active.
    @discardableResult
    func connect(
        _ member: String, provider: SandboxProvider = .google, email: String? = nil, timeZone: String = "UTC"
    ) async throws -> SandboxAccount {
        let email = email ?? "\(member)@\(provider.rawValue).sandbox.test"
        let account = sandbox.createAccount(provider, email: email, timeZone: timeZone)
        try await reconnect(member, provider: provider, email: email)
        return account
    }

    /// Sends a connect job with a fresh authorization code for an existing sandbox account and waits for `active`.
    ///
    /// Codes are single-use, as at the providers: a connect whose token answer came after the worker's request timeout
    /// has burnt its code, and its retry is dead (`authorization_code_invalid`). Tests that shorten that timeout to a
    /// second can lose their connect so on a loaded machine; the connect is not what they test, so such a lost code is
    /// replaced by a fresh one (at most twice), and its dead record removed.
    func reconnect(_ member: String, provider: SandboxProvider = .google, email: String) async throws {
        for attempt in 1...3 {
            let code = sandbox.issueAuthorizationCode(provider, email: email, redirectURI: Self.redirectURI)
            lock.withLock { codes.append(code) }
            let id = try await enqueue(
                "connect_calendar",
                #"{"member_id":"\#(member)","actor_member_id":"\#(member)","provider":"\#(provider.rawValue)","authorization_code":"\#(code)","redirect_uri":"\#(Self.redirectURI)"}"#)
            var codeLost = false
            try await eventually("\(member) connected to \(provider.rawValue)", timeout: .seconds(15), context: allLogs) {
                if try await connection(member, provider)?.status == "active" { return true }
                guard attempt < 3, let dead = try await queue.deadShow(id: id) else { return false }
                codeLost = dead.reason == "authorization_code_invalid"
                return codeLost
            }
            guard codeLost else { break }
            _ = try await queue.deadPurge(id: id)
        }
        try await idle()
    }

    /// Sends an export job for one revision of an appointment.
    func export(
        _ member: String, _ appointment: String, revision: Int, status: String = "confirmed", busy: Bool = true,
        start: String = "\(TestDay.d(0))T10:00:00Z", end: String = "\(TestDay.d(0))T11:00:00Z", extra: String = ""
    ) async throws {
        try await enqueue(
            "export_appointment",
            #"{"member_id":"\#(member)","appointment":{"id":"\#(appointment)","revision":\#(revision),"status":"\#(status)","counts_as_busy":\#(busy),"starts_at":"\#(start)","ends_at":"\#(end)","service_name":"Haircut","customer_name":"Ada Customer","customer_email":"ada@customer.test","notes":"secret note"\#(extra)}}"#)
    }

    /// Waits until no job is ready, scheduled or in flight.
    func idle(timeout: Duration = .seconds(20)) async throws {
        try await eventually("the queues to drain", timeout: timeout, context: allLogs) {
            let stats = try await queue.stats(knownTypes: ContractJobTypes.all)
            return stats.ready.values.allSatisfy { $0 == 0 } && stats.scheduled.values.allSatisfy { $0 == 0 }
                && stats.inFlight == 0
        }
    }

    /// The events the provider holds in an account's primary calendar (deleted ones excluded unless asked).
    func providerEvents(_ account: SandboxAccount, includeDeleted: Bool = false) -> [SandboxStoredEvent] {
        sandbox.events(account.provider, email: account.email, calendarID: account.primaryCalendarID, includeDeleted: includeDeleted)
    }

    /// Provider writes (create, update, delete) for an account since the last `clearRequests`.
    func providerWrites(_ account: SandboxAccount) -> [SandboxRequestRecord] {
        sandbox.requests().filter { $0.isWrite && $0.account == account.email }
    }

    /// Every provider request for an account.
    func providerRequests(_ account: SandboxAccount) -> [SandboxRequestRecord] {
        sandbox.requests().filter { $0.account == account.email }
    }

    /// The connection row of a member and provider.
    func connection(_ member: String, _ provider: SandboxProvider) async throws -> ConnectionRow? {
        let rows = try await db.query(
            """
            SELECT id::text, status, status_detail, account_email, export_calendar_id, credentials_sealed IS NOT NULL,
                   last_outbound_sync_at, last_outbound_error, last_inbound_sync_at, last_inbound_error, sync_direction
            FROM calendar_connections WHERE member_id = \(member) AND provider = \(provider.rawValue)
            """, logger: e2eLogger)
        for try await row in rows.decode(
            (String, String, String?, String?, String?, Bool, Date?, String?, Date?, String?, String).self)
        {
            return ConnectionRow(
                id: row.0, status: row.1, statusDetail: row.2, accountEmail: row.3, exportCalendarID: row.4,
                hasCredentials: row.5, lastOutboundSyncAt: row.6, lastOutboundError: row.7, lastInboundSyncAt: row.8,
                lastInboundError: row.9, syncDirection: row.10)
        }
        return nil
    }

    /// What the availability engine sees for a member.
    func visibleBusy(_ member: String) async throws -> [DateInterval] {
        let rows = try await db.query(
            "SELECT starts_at, ends_at FROM member_busy_intervals WHERE member_id = \(member) ORDER BY starts_at",
            logger: e2eLogger)
        var result: [DateInterval] = []
        for try await (start, end) in rows.decode((Date, Date).self) { result.append(DateInterval(start: start, end: end)) }
        return result
    }

    /// Busy-block rows stored for a member, whatever the view shows.
    func storedBlocks(_ member: String) async throws -> Int {
        let rows = try await db.query("SELECT count(*) FROM external_busy_blocks WHERE member_id = \(member)", logger: e2eLogger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    /// Lifecycle events published so far (type and member of each).
    func lifecycleEvents() async throws -> [[String: String]] {
        let reply = try await redis.send(["XRANGE", "\(prefix):events", "-", "+"])
        return (reply.array ?? []).compactMap { entry -> [String: String]? in
            guard let fields = entry.array?.last?.array?.compactMap(\.string) else { return nil }
            var map: [String: String] = [:]
            for index in stride(from: 0, to: fields.count - 1, by: 2) { map[fields[index]] = fields[index + 1] }
            return map
        }
    }

    /// Every authorization code this world issued.
    var issuedCodes: [String] { lock.withLock { codes } }

    /// The credentials stored for a connection, opened with the world's key (to know which tokens must never leak).
    func storedCredentials(_ member: String, _ provider: SandboxProvider) async throws -> ProviderCredentials? {
        let rows = try await db.query(
            "SELECT credentials_key_id, credentials_sealed FROM calendar_connections WHERE member_id = \(member) AND provider = \(provider.rawValue)",
            logger: e2eLogger)
        for try await (keyID, sealed) in rows.decode((String?, ByteBuffer?).self) {
            guard let keyID, let sealed else { return nil }
            let sealer = try CredentialSealer(currentKey: key)
            return try sealer.open(
                ProviderCredentials.self, from: SealedCredentials(keyID: keyID, sealed: Array(buffer: sealed)),
                context: "calsync:credentials:\(member):\(provider.rawValue)")
        }
        return nil
    }

    /// Every Redis key and value under this world's prefix, as text.
    func redisDump() async throws -> String {
        var out = ""
        let keys = try await redis.send(["KEYS", "\(prefix):*"]).array?.compactMap(\.string) ?? []
        for key in keys {
            out += key + "\n"
            let type = try await redis.send(["TYPE", key]).string ?? ""
            let command: [String]
            switch type {
            case "string": command = ["GET", key]
            case "list": command = ["LRANGE", key, "0", "-1"]
            case "hash": command = ["HGETALL", key]
            case "zset": command = ["ZRANGE", key, "0", "-1", "WITHSCORES"]
            case "set": command = ["SMEMBERS", key]
            case "stream": command = ["XRANGE", key, "-", "+"]
            default: continue
            }
            out += Self.flatten(try await redis.send(command)) + "\n"
        }
        return out
    }

    private static func flatten(_ value: RedisValue) -> String {
        if let array = value.array { return array.map(flatten).joined(separator: " ") }
        return value.string ?? value.int.map(String.init) ?? ""
    }

    /// Every text column of the tables the web tier reads that could carry an error or a detail.
    func databaseText() async throws -> String {
        let rows = try await db.query(
            """
            SELECT coalesce(status_detail, '') || ' ' || coalesce(last_inbound_error, '') || ' ' || coalesce(last_outbound_error, '')
                   || ' ' || coalesce(account_email, '') || ' ' || array_to_string(busy_calendar_ids, ' ')
            FROM calendar_connections
            UNION ALL SELECT payload || ' ' || reason FROM parked_changes
            """, logger: e2eLogger)
        var out = ""
        for try await text in rows.decode(String.self) { out += text + "\n" }
        return out
    }
}

/// A connection row, as the web tier reads it.
struct ConnectionRow: Sendable {
    let id: String
    let status: String
    let statusDetail: String?
    let accountEmail: String?
    let exportCalendarID: String?
    let hasCredentials: Bool
    let lastOutboundSyncAt: Date?
    let lastOutboundError: String?
    let lastInboundSyncAt: Date?
    let lastInboundError: String?
    let syncDirection: String
}

/// A spawned `calsync worker` (with the sync handlers) whose output goes to a log file.
final class SyncWorker: @unchecked Sendable {
    let child: ChildProcess
    let logURL: URL

    init(environment: [String: String], log: URL) throws {
        logURL = log
        child = try ChildProcess(
            executable: TestEnvironment.calsyncBinary.path, arguments: ["worker"],
            environment: ChildProcess.environment(environment), stdoutPath: log.path, stderrPath: log.path)
    }

    /// Kills the worker at once (no graceful shutdown) and waits until it is gone.
    func kill9() async { await child.kill9() }

    /// Stops the worker if it still runs (the world's keys and schema are dropped after the test).
    func stop() { child.signal(SIGKILL) }

    /// What the worker wrote so far.
    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
}

/// `YYYY-MM-DDThh:mm:ssZ` → instant.
func instant(_ text: String) -> Date {
    RFC3339Instant.parse(text) ?? Date(timeIntervalSince1970: 0)
}

/// The calendar days of the end-to-end tests, counted from tomorrow (UTC) whatever day the suite runs, so that every
/// appointment lies ahead (a parked export of an appointment that has ended is dropped) and inside the rolling import
/// window (one day back, 90 ahead): `TestDay.d(0)` is tomorrow as `yyyy-MM-dd`, `TestDay.d(4)` four days later.
enum TestDay {
    /// Midnight UTC at the start of tomorrow, fixed for the whole test process.
    static let tomorrow: Date = {
        let day = 86_400.0
        return Date(timeIntervalSince1970: ((Date().timeIntervalSince1970 / day).rounded(.down) + 1) * day)
    }()

    /// The day `offset` days after tomorrow, `yyyy-MM-dd`.
    static func d(_ offset: Int) -> String {
        String(RFC3339.format(tomorrow.addingTimeInterval(Double(offset) * 86_400)).prefix(10))
    }
}
