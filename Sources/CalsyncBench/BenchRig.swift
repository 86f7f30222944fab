import CalsyncQueue
import CalsyncRedis
import CalsyncSandbox
import CalsyncStore
import CalsyncTestSupport
import Foundation
import Logging
import PostgresNIO

#if canImport(Glibc)
    import Glibc
#endif

/// What every scenario shares: Redis and PostgreSQL (started by `scripts/with-services.sh`), the
/// provider sandbox served from this process, and the release `calsync` binary it spawns.
final class BenchRig: Sendable {
    let calsync: String
    let redisURL: String
    let databaseURL: String
    let redis: RedisClient
    let queue: JobQueue
    let db: PostgresClient
    let sandbox: Sandbox
    let endpoints: SandboxEndpoints
    let workDirectory: URL
    let keyBase64: String
    let logger: Logger
    /// A command the worker runs under, e.g. `valgrind --tool=callgrind` (empty: none).
    let workerWrapper: [String]

    static let redirectURI = "https://bench.calsync.test/oauth/callback"
    static let organization = "org-bench"

    init(
        calsync: String, workerWrapper: [String], workDirectory: URL, redis: RedisClient, db: PostgresClient,
        sandbox: Sandbox, endpoints: SandboxEndpoints, logger: Logger
    ) {
        self.calsync = calsync
        self.workerWrapper = workerWrapper
        self.redisURL = TestEnvironment.redisURL
        self.databaseURL = TestEnvironment.databaseURL
        self.redis = redis
        self.queue = JobQueue(redis: redis, configuration: QueueConfiguration(prefix: "calsync"), logger: logger)
        self.db = db
        self.sandbox = sandbox
        self.endpoints = endpoints
        self.keyBase64 = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        self.workDirectory = workDirectory
        try? FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        self.logger = logger
    }

    /// Connects to the servers, migrates, serves the sandbox, runs `body`, and tears everything down.
    static func with<T: Sendable>(
        calsync: String, workerWrapper: [String] = [], keepLogs: String? = nil, logger: Logger, _ body: @Sendable (BenchRig) async throws -> T) async throws -> T {
        var databaseConfiguration = try DatabaseConfiguration(url: TestEnvironment.databaseURL)
        databaseConfiguration.maximumConnections = 20
        // The benchmark's own set-up and clean-up statements (a million rows at once) have no time limit.
        databaseConfiguration.timeouts = .migration
        let database = Database(configuration: databaseConfiguration, logger: logger)
        do {
            try await database.checkConnectivity(timeout: .seconds(5))
        } catch {
            throw BenchError(TestEnvironment.missingServer("PostgreSQL", url: TestEnvironment.databaseURL, underlying: error))
        }
        let redis = RedisClient.running(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), logger: logger, poolSize: 16)
        defer { redis.close() }
        do {
            _ = try await redis.send(["PING"])
        } catch {
            throw BenchError(TestEnvironment.missingServer("Redis", url: TestEnvironment.redisURL, underlying: error))
        }
        var sandboxConfiguration = SandboxConfiguration()
        // The benchmark measures calsync, not Google's per-user quota (600/min would cap 200 members at
        // 2,000 requests/s): the sandbox's quota and calsync's own limit are raised together (see README).
        sandboxConfiguration.googleUserRequestsPerMinute = 100_000_000
        sandboxConfiguration.requestLogLimit = 400_000
        let sandbox = Sandbox(configuration: sandboxConfiguration, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            _ = try await Migrator(database: database, logger: logger).migrate()
            return try await withSandboxServer(sandbox) { endpoints in
                let directory = keepLogs.map { URL(fileURLWithPath: $0) }
                    ?? FileManager.default.temporaryDirectory.appendingPathComponent("calsync-bench-\(getpid())")
                let rig = BenchRig(
                    calsync: calsync, workerWrapper: workerWrapper, workDirectory: directory, redis: redis, db: database.client, sandbox: sandbox,
                    endpoints: endpoints, logger: logger)
                defer { if keepLogs == nil { try? FileManager.default.removeItem(at: rig.workDirectory) } }
                return try await body(rig)
            }
        }
    }

    // MARK: calsync processes

    /// The environment of every `calsync` process the benchmark starts.
    /// This run's Redis and PostgreSQL, for CPU accounting (`CPUMeter`).
    var servers: BenchServers {
        BenchServers(
            redisAddress: URLComponents(string: redisURL).map { "\($0.host ?? ""):\($0.port ?? 6379)" } ?? "?",
            postgresPort: URLComponents(string: databaseURL)?.port.map(String.init) ?? "?")
    }

    func environment(_ extra: [String: String]) -> [String: String] {
        ChildProcess.environment(
            [
                "CALSYNC_REDIS_URL": redisURL,
                "CALSYNC_DATABASE_URL": databaseURL,
                "CALSYNC_ENCRYPTION_KEY": keyBase64,
                "CALSYNC_METRICS_PORT": "0",
                "CALSYNC_LOG_LEVEL": "info",
                "CALSYNC_LOG_FORMAT": "json",
                "CALSYNC_GOOGLE_CLIENT_ID": "sandbox-google-client",
                "CALSYNC_GOOGLE_CLIENT_SECRET": "sandbox-google-secret",
                "CALSYNC_GOOGLE_API_URL": endpoints.googleAPI,
                "CALSYNC_GOOGLE_TOKEN_URL": endpoints.googleToken,
                "CALSYNC_MICROSOFT_CLIENT_ID": "sandbox-microsoft-client",
                "CALSYNC_MICROSOFT_CLIENT_SECRET": "sandbox-microsoft-secret",
                "CALSYNC_MICROSOFT_GRAPH_URL": endpoints.graph,
                "CALSYNC_MICROSOFT_TOKEN_URL": endpoints.microsoftToken,
                // Limits every request still passes through (one Redis script each), set high enough not to bind.
                "CALSYNC_GOOGLE_APP_REQUESTS_PER_MINUTE": "100000000",
                "CALSYNC_GOOGLE_USER_REQUESTS_PER_MINUTE": "100000000",
            ].merging(extra) { $1 })
    }

    /// Starts `calsync worker` (under the wrapper, if any) and waits until it claims.
    func startWorker(_ extra: [String: String] = [:]) async throws -> BenchProcess {
        let process = try BenchProcess(
            rig: self, arguments: ["worker"], environment: environment(extra), name: "worker", wrapper: workerWrapper)
        try await process.waitForLog("worker started", timeout: .seconds(workerWrapper.isEmpty ? 30 : 300))
        return process
    }

    /// Runs `calsync` with `arguments` to its end; returns its output (stdout and stderr) or throws on failure.
    func runCalsync(_ arguments: [String], _ extra: [String: String] = [:], timeout: Duration = .seconds(600)) async throws -> String {
        let process = try BenchProcess(rig: self, arguments: arguments, environment: environment(extra), name: arguments[0])
        guard let status = await process.child.wait(timeout: timeout) else {
            await process.child.kill9()
            throw BenchError("calsync \(arguments.joined(separator: " ")) did not finish within \(timeout)")
        }
        let output = process.log
        guard status == 0 else { throw BenchError("calsync \(arguments.joined(separator: " ")) exited with \(status):\n\(output)") }
        return output
    }

    // MARK: queues and data

    /// Waits until no job is ready, scheduled or in flight; returns when that was first seen. Polls with
    /// one small pipeline (no key scan), so that the measuring costs Redis little.
    @discardableResult
    func waitIdle(timeout: Duration = .seconds(300), poll: Duration = .milliseconds(10)) async throws -> ContinuousClock.Instant {
        let deadline = ContinuousClock.now + timeout
        var commands: [[String]] = [["ZCARD", "calsync:leases"]]
        for type in Self.jobTypes {
            commands.append(["LLEN", queue.readyKey(type)])
            commands.append(["ZCARD", queue.scheduledKey(type)])
            commands.append(["ZCARD", queue.isolatedKey(type)])
        }
        while ContinuousClock.now < deadline {
            let replies = try await redis.pipeline(commands)
            if replies.allSatisfy({ $0.int == 0 }) { return ContinuousClock.now }
            try await Task.sleep(for: poll)
        }
        throw BenchError("the queues did not drain within \(timeout)")
    }

    static let jobTypes = [
        "connect_calendar", "disconnect_calendar", "export_appointment", "delete_external_event", "import_window", "refresh_token",
    ]

    /// Jobs currently held by workers (their leases).
    func inFlight() async throws -> Int {
        try await redis.send(["ZCARD", "calsync:leases"]).int ?? 0
    }

    /// Dead-lettered jobs so far.
    func deadCount() async throws -> Int {
        try await queue.stats(knownTypes: Self.jobTypes).dead
    }

    /// LPUSHes producer envelopes in pipelines of 1,000.
    func push(_ type: String, _ envelopes: [String]) async throws {
        let key = queue.readyKey(type)
        var start = 0
        while start < envelopes.count {
            let end = min(start + 1_000, envelopes.count)
            _ = try await redis.pipeline(envelopes[start..<end].map { ["LPUSH", key, $0] })
            start = end
        }
    }

    /// Runs SQL and returns the first column of the first row as an integer.
    func count(_ sql: String) async throws -> Int {
        let rows = try await db.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        for try await value in rows.decode(Int64.self) { return Int(value) }
        return 0
    }

    /// Runs SQL, discarding rows.
    func execute(_ sql: String) async throws {
        try await db.query(PostgresQuery(unsafeSQL: sql), logger: logger)
    }

    /// PostgreSQL's clock now, as text usable in SQL.
    func databaseNow() async throws -> String {
        let rows = try await db.query("SELECT clock_timestamp()::text", logger: logger)
        for try await value in rows.decode(String.self) { return value }
        throw BenchError("PostgreSQL did not answer")
    }
}

/// A `calsync` process the benchmark started; output goes to a file in the work folder.
final class BenchProcess: Sendable {
    let child: ChildProcess
    let logPath: String

    init(rig: BenchRig, arguments: [String], environment: [String: String], name: String, wrapper: [String] = []) throws {
        logPath = rig.workDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8)).log").path
        if wrapper.isEmpty {
            child = try ChildProcess(
                executable: rig.calsync, arguments: arguments, environment: environment, stdoutPath: logPath, stderrPath: logPath)
        } else {
            child = try ChildProcess(
                executable: "/usr/bin/env", arguments: wrapper + [rig.calsync] + arguments, environment: environment,
                stdoutPath: logPath, stderrPath: logPath)
        }
    }

    /// What the process wrote so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Waits until the log contains `text`; throws with the log when the process ends or time runs out.
    func waitForLog(_ text: String, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if log.contains(text) { return }
            if !child.isRunning { throw BenchError("\(child.commandLine.joined(separator: " ")) ended early:\n\(log)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchError("\(child.commandLine.joined(separator: " ")) did not log '\(text)' within \(timeout):\n\(log)")
    }

    /// Resident and peak resident memory in bytes (`VmRSS`, `VmHWM` of /proc/PID/status).
    func memory() -> (rss: Int, peak: Int) {
        guard let status = try? String(contentsOfFile: "/proc/\(child.pid)/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            let digits = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return digits * 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// Stops the process gracefully (SIGTERM), killing it after 30 s.
    func stop() async {
        child.signal(SIGTERM)
        if await child.wait(timeout: .seconds(30)) == nil { await child.kill9() }
    }
}

/// A benchmark step that could not run; the message says why.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
