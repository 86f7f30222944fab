import AsyncHTTPClient
import CalsyncRedis
import CalsyncStore
import CalsyncTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `calsync console` in a real browser: Debian's headless chromium, driven over WebDriver, against the real
/// console and worker processes on a private Redis prefix and PostgreSQL schema. Screenshots of every page go
/// to `.build/console-screenshots` (or `CALSYNC_CONSOLE_SCREENSHOTS`).
@Suite("Console in a browser", .serialized)
struct ConsoleBrowserTests {
    static let password = "browser test password"

    /// Where the screenshots go.
    static var screenshots: URL {
        if let explicit = ProcessInfo.processInfo.environment["CALSYNC_CONSOLE_SCREENSHOTS"] { return URL(fileURLWithPath: explicit) }
        var dir = TestEnvironment.calsyncBinary.deletingLastPathComponent()
        while dir.lastPathComponent != ".build", dir.pathComponents.count > 1 { dir = dir.deletingLastPathComponent() }
        if dir.lastPathComponent != ".build" { dir = FileManager.default.temporaryDirectory }
        return dir.appendingPathComponent("console-screenshots")
    }

    /// Runs `calsync ARGS` to its end with `input` on standard input; returns standard output.
    static func calsync(_ arguments: [String], environment: [String: String], input: String = "") throws -> (Int32, String) {
        let process = Process()
        process.executableURL = TestEnvironment.calsyncBinary
        process.arguments = arguments
        process.environment = ChildProcess.environment(environment)
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stdout
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test("log in, every page, auto-refresh, filter, retry one (its job succeeds), purge, CSRF refused, lockout; screenshots")
    func browse() async throws {
        let prefix = TestEnvironment.uniqueName("console_e2e")
        let schema = TestEnvironment.uniqueName("console_e2e")
        let redis = try await connect(TestEnvironment.redisURL)
        defer { redis.close() }
        var environment: [String: String] = [
            "CALSYNC_REDIS_URL": TestEnvironment.redisURL, "CALSYNC_REDIS_PREFIX": prefix,
            "CALSYNC_DATABASE_URL": TestEnvironment.databaseURL, "CALSYNC_DATABASE_SCHEMA": schema, "CALSYNC_METRICS_PORT": "0",
            "CALSYNC_DATABASE_MAX_CONNECTIONS": "4",
        ]

        // The real CLI makes the hash and migrates the private schema.
        let (hashStatus, hashOutput) = try Self.calsync(["console", "hash-password"], environment: environment, input: Self.password + "\n")
        #expect(hashStatus == 0)
        let hash = hashOutput.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(hash.hasPrefix("$2b$") && hash.count == 60, "\(hashOutput)")
        let (refused, refusal) = try Self.calsync(["console"], environment: environment)
        #expect(refused == 78)
        #expect(refusal.contains("CALSYNC_CONSOLE_PASSWORD_HASH"))
        let (migrated, migrateOutput) = try Self.calsync(["migrate"], environment: environment)
        #expect(migrated == 0, "\(migrateOutput)")

        // Seed: one connection in trouble, dead jobs (two diag_echo the worker can run, one import_window).
        var databaseConfiguration = try DatabaseConfiguration(url: TestEnvironment.databaseURL, schema: schema)
        databaseConfiguration.maximumConnections = 1
        let database = Database(configuration: databaseConfiguration, logger: e2eLogger)
        let seeded = Task { await database.client.run() }
        defer { seeded.cancel() }
        try await database.client.query(
            "INSERT INTO organizations (id, plan, external_calendar_sync_enabled) VALUES ('org-1', 'pro', true)", logger: e2eLogger)
        try await database.client.query("INSERT INTO members (id, organization_id) VALUES ('member-7', 'org-1')", logger: e2eLogger)
        try await database.client.query(
            """
            INSERT INTO calendar_connections (member_id, provider, account_email, status, status_detail, last_inbound_sync_at,
                last_inbound_error, rate_limited_until)
            VALUES ('member-7', 'google', 'ada@example.com', 'reconnect_required',
                'Google refused the refresh token (invalid_grant): the member must reconnect', now() - interval '3 minutes',
                'invalid_grant', now() + interval '4 minutes')
            """, logger: e2eLogger)
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        func dead(_ id: String, _ type: String, _ reason: String, _ error: String, _ http: Int, _ raw: String, _ at: Int64) -> [[String]] {
            let record: [String: Any] = [
                "id": id, "type": type, "reason": reason, "error": error, "http_status": http, "attempts": 8,
                "first_failed_at": at - 60_000, "last_failed_at": at, "raw": raw,
            ]
            let json = String(decoding: try! JSONSerialization.data(withJSONObject: record), as: UTF8.self)
            return [["HSET", "\(prefix):dead", id, json], ["ZADD", "\(prefix):dead:index", String(at), id], ["HINCRBY", "\(prefix):dead:types", type, "1"]]
        }
        _ = try await redis.pipeline(
            dead("diag-retry", "diag_echo", "attempts_exhausted", "told to fail (attempt 8)", 503,
                #"{"id":"diag-retry","type":"diag_echo","payload":{}}"#, now - 3000)
                + dead("diag-purge", "diag_echo", "attempts_exhausted", "told to fail (attempt 8)", 503,
                    #"{"id":"diag-purge","type":"diag_echo","payload":{}}"#, now - 2000)
                + dead("import-1", "import_window", "lease_expired", "the job's lease expired 3 times", 0,
                    #"{"id":"import-1","type":"import_window","payload":{"member_id":"member-7"}}"#, now - 1000))

        // The console and a worker that runs diag_echo jobs (and beats).
        let port = try PrivateServers.freePort()
        environment["CALSYNC_CONSOLE_PORT"] = String(port)
        environment["CALSYNC_CONSOLE_PASSWORD_HASH"] = hash
        environment["CALSYNC_CONSOLE_REFRESH_SECONDS"] = "1"
        environment["CALSYNC_CONSOLE_LOCKOUT_FAILURES"] = "3"
        let consoleLog = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-console.log")
        let console = try ChildProcess(
            executable: TestEnvironment.calsyncBinary.path, arguments: ["console"], environment: ChildProcess.environment(environment),
            stdoutPath: consoleLog.path, stderrPath: consoleLog.path)
        defer { console.signal(SIGKILL) }
        var workerEnvironment = environment
        workerEnvironment["CALSYNC_ENCRYPTION_KEY"] = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let worker = try WorkerProcess(redisURL: TestEnvironment.redisURL, prefix: prefix, extraEnvironment: workerEnvironment)
        defer { worker.stop() }

        let browser = try await WebDriver()
        do {
            try await run(browser, port: port, prefix: prefix, redis: redis)
        } catch {
            let log = (try? String(contentsOf: consoleLog, encoding: .utf8)) ?? ""
            Issue.record("browser test failed: \(error)\nconsole log:\n\(log.suffix(2000))\nworker log:\n\(worker.logTail)")
        }
        await browser.close()
        console.signal(SIGTERM)
        #expect(await console.wait(timeout: .seconds(15)) == 0)
        worker.signal(SIGTERM)
        _ = await worker.waitForExit(timeout: .seconds(30))
        try? await database.client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE"), logger: e2eLogger)
    }

    func run(_ browser: WebDriver, port: Int, prefix: String, redis: RedisClient) async throws {
        let site = "http://127.0.0.1:\(port)"
        let shots = Self.screenshots
        // The console may still be starting.
        var up = false
        for _ in 0..<100 {
            try await browser.open("\(site)/login")
            if try await !browser.all("#login-form").isEmpty {
                up = true
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        try #require(up, "the console never served its login page")

        // Every page needs a login.
        for path in ["/", "/workers", "/dead", "/connections"] {
            try await browser.open(site + path)
            #expect(try await browser.url() == "\(site)/login", "\(path)")
        }
        try await browser.screenshot(to: shots.appendingPathComponent("login.png"))

        // A wrong password is refused.
        try await browser.type("#operator-name", "Ada")
        try await browser.type("#password", "not the password")
        try await browser.clickAndWait("#sign-in")
        #expect(try await browser.text("#problem").contains("Wrong password"))

        // The right one opens the overview, which refreshes by itself.
        try await browser.type("#operator-name", "Ada")
        try await browser.type("#password", Self.password)
        try await browser.clickAndWait("#sign-in")
        _ = try await browser.find("#queues")
        #expect(try await browser.text("#operator") == "Ada")
        let first = try await browser.text("#updated-at")
        var refreshed = false
        for _ in 0..<50 where !refreshed {
            try await Task.sleep(for: .milliseconds(200))
            refreshed = try await browser.text("#updated-at") != first
        }
        #expect(refreshed, "the overview did not refresh by itself")
        #expect(try await browser.source().contains("<a href=\"/dead?type=diag_echo\">2</a>"))
        try await browser.screenshot(to: shots.appendingPathComponent("overview.png"))

        // Workers: the worker's heartbeat.
        try await browser.open("\(site)/workers")
        var beating = false
        for _ in 0..<50 where !beating {
            beating = try await !browser.all("#workers tbody tr").isEmpty
            if !beating {
                try await Task.sleep(for: .milliseconds(300))
                try await browser.open("\(site)/workers")
            }
        }
        #expect(beating, "no worker heartbeat on the workers page")
        #expect(try await browser.text("#workers tbody").contains("2.0.0-dev"))
        try await browser.screenshot(to: shots.appendingPathComponent("workers.png"))

        // Dead jobs: filter by type.
        try await browser.open("\(site)/dead")
        #expect(try await browser.all("tr.dead-row").count == 3)
        try await browser.click("#filter-type option[value='diag_echo']")
        try await browser.clickAndWait("#apply-filter")
        #expect(try await browser.url().contains("type=diag_echo"))
        #expect(try await browser.all("tr.dead-row").count == 2)
        try await browser.screenshot(to: shots.appendingPathComponent("dead.png"))

        // Retry one from its detail page: it leaves the list, and the worker runs it to success.
        try await browser.clickAndWait("a[href='/dead/show?id=diag-retry']")
        #expect(try await browser.text("#dead-reason") == "attempts_exhausted")
        #expect(try await browser.text("#dead-http") == "503")
        try await browser.screenshot(to: shots.appendingPathComponent("dead-detail.png"))
        try await browser.clickAndWait("#retry-one")
        #expect(try await browser.text("#notice").contains("Retried 1"))
        #expect(try await browser.all("tr[data-id='diag-retry']").isEmpty)
        var succeeded = false
        for _ in 0..<100 where !succeeded {
            let done = try await redis.send(["LRANGE", "\(prefix):diag:done", "0", "-1"]).array?.compactMap(\.string) ?? []
            succeeded = done.contains("diag-retry")
            if !succeeded { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(succeeded, "the retried job did not succeed")

        // A POST without the CSRF token (or with a wrong one) is refused, and nothing happens.
        let status = try await browser.executeAsync(
            """
            const done = arguments[arguments.length - 1];
            Promise.all([
              fetch('/dead/purge', {method: 'POST', body: new URLSearchParams({id: 'diag-purge'})}).then(r => r.status),
              fetch('/dead/purge', {method: 'POST', body: new URLSearchParams({id: 'diag-purge', csrf: 'forged'})}).then(r => r.status),
            ]).then(done, e => done(String(e)));
            """)
        #expect((status as? [Int]) == [403, 403], "\(String(describing: status))")
        #expect(try await redis.send(["HEXISTS", "\(prefix):dead", "diag-purge"]).int == 1)

        // Purge one.
        try await browser.open("\(site)/dead/show?id=diag-purge")
        try await browser.clickAndWait("#purge-one")
        #expect(try await browser.text("#notice").contains("Purged 1"))
        #expect(try await redis.send(["HEXISTS", "\(prefix):dead", "diag-purge"]).int == 0)

        // Connections: search by email, the detail, and "resync now" enqueues a full resync.
        try await browser.open("\(site)/connections")
        try await browser.type("#connection-search", "ADA@example")
        try await browser.clickAndWait("#apply-connection-filter")
        #expect(try await browser.text("#connections tbody").contains("ada@example.com"))
        #expect(try await browser.text("#connections tbody").contains("invalid_grant"))
        try await browser.screenshot(to: shots.appendingPathComponent("connections.png"))
        try await browser.clickAndWait("#connections tbody a")
        #expect(try await browser.text("#connection-status-value") == "reconnect_required")
        try await browser.screenshot(to: shots.appendingPathComponent("connection-detail.png"))
        try await browser.clickAndWait("#resync")
        #expect(try await browser.text("#notice").contains("full resync"))

        // Every action is on the events stream with the operator.
        let events = try await redis.send(["XRANGE", "\(prefix):events", "-", "+"]).array ?? []
        let texts = events.map { ($0.array?.last?.array ?? []).compactMap(\.string).joined(separator: " ") }
        for action in ["dead.retry", "dead.purge", "connection.resync"] {
            #expect(texts.contains { $0.contains("type ops.action") && $0.contains("operator Ada") && $0.contains("action \(action) ") }, "\(action)")
        }
        #expect(!texts.contains { $0.contains(Self.password) })
        // (The worker may already have run the resync it enqueued: the event names the job.)
        #expect(texts.contains { $0.contains("action connection.resync") && $0.contains("member_id=member-7") && $0.contains("job=job-") })

        // Log out; three wrong passwords lock that name's login, even for the right password (other names are not locked).
        try await browser.clickAndWait("#logout")
        _ = try await browser.find("#login-form")
        for attempt in 1...3 {
            try await browser.type("#operator-name", "Mallory")
            try await browser.type("#password", "guess \(attempt)")
            try await browser.clickAndWait("#sign-in")
        }
        #expect(try await browser.text("#problem").contains("locked"))
        try await browser.type("#operator-name", "Mallory")
        try await browser.type("#password", Self.password)
        try await browser.clickAndWait("#sign-in")
        #expect(try await browser.text("#problem").contains("locked"))
        #expect(try await browser.url() == "\(site)/login")
        try await browser.screenshot(to: shots.appendingPathComponent("lockout.png"))
    }
}
