import CalsyncApp
import CalsyncGoogle
import CalsyncMicrosoft
import CalsyncSync
import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import CalsyncStore
import Foundation
import Logging
import Testing

@Suite("CalsyncConfiguration")
struct ConfigurationTests {
    static let key = Data(repeating: 7, count: 32).base64EncodedString()

    @Test("an empty environment gives the documented defaults")
    func defaults() async throws {
        let config = try await CalsyncConfiguration.load(requiring: [], environment: [:])
        #expect(config.redis.host == "127.0.0.1" && config.redis.port == 6379 && config.redis.database == 0)
        #expect(config.queue.prefix == "calsync")
        #expect(config.database.redactedURL == "postgres://calsync@127.0.0.1:5432/calsync?sslmode=disable")
        #expect(config.encryption.key == nil)
        #expect(config.google.apiBaseURL == "https://www.googleapis.com/calendar/v3")
        #expect(config.microsoft.tokenURL == "https://login.microsoftonline.com/common/oauth2/v2.0/token")
        #expect(config.worker.concurrency == 64)
        #expect(config.queue.leaseDuration == .seconds(30))
        #expect(config.queue.maxLeaseExpiries == 3)
        #expect(config.queue.maxJobBytes == 1_048_576)
        #expect(config.worker.shutdownGrace == .seconds(25))
        #expect(config.queue.deadLetterMaxCount == 10_000)
        #expect(config.queue.deadLetterMaxAge == .seconds(180 * 86_400))
        #expect(config.sync.importPastDays == 1)
        #expect(config.sync.importFutureDays == 90)
        #expect(config.metrics.port == 9464)
        #expect(config.logging.format == .text)
        #expect(config.logging.level == .info)
    }

    @Test("every variable is read")
    func reads() async throws {
        let config = try await CalsyncConfiguration.load(
            requiring: .worker,
            environment: [
                "CALSYNC_REDIS_URL": "redis://:pw@10.0.0.1:6380/2", "CALSYNC_REDIS_PREFIX": "{calsync}",
                "CALSYNC_DATABASE_URL": "postgres://u:p@db:5433/x?sslmode=require", "CALSYNC_ENCRYPTION_KEY": Self.key,
                "CALSYNC_GOOGLE_CLIENT_ID": "gid", "CALSYNC_GOOGLE_CLIENT_SECRET": "gsecret",
                "CALSYNC_GOOGLE_API_URL": "http://127.0.0.1:9000/calendar/v3",
                "CALSYNC_MICROSOFT_GRAPH_URL": "http://127.0.0.1:9001/v1.0",
                "CALSYNC_WORKER_CONCURRENCY": "8", "CALSYNC_TYPE_CONCURRENCY": "import_window=16, refresh_token=8",
                "CALSYNC_JOB_LEASE_SECONDS": "5", "CALSYNC_SHUTDOWN_GRACE_SECONDS": "3",
                "CALSYNC_RETRY_MAX_ATTEMPTS": "4", "CALSYNC_RETRY_BASE_SECONDS": "1", "CALSYNC_RETRY_MAX_DELAY_SECONDS": "60",
                "CALSYNC_IMPORT_PAST_DAYS": "2", "CALSYNC_IMPORT_FUTURE_DAYS": "30", "CALSYNC_METRICS_PORT": "0",
                "CALSYNC_LOG_FORMAT": "json", "CALSYNC_LOG_LEVEL": "debug", "CALSYNC_MAX_LEASE_EXPIRIES": "5",
                "CALSYNC_JOB_MAX_AGE_SECONDS": "600", "CALSYNC_MAX_DEFERRALS": "9", "CALSYNC_MAX_JOB_BYTES": "65536",
                "CALSYNC_DEAD_LETTER_MAX_COUNT": "100", "CALSYNC_DEAD_LETTER_MAX_AGE_DAYS": "7",
            ])
        #expect(config.queue.prefix == "{calsync}")
        #expect(config.redis.database == 2 && config.redis.host == "10.0.0.1" && config.redis.port == 6380)
        #expect(config.database.sslMode == .require && config.database.host == "db" && config.database.port == 5433)
        #expect(config.encryption.key == Array(repeating: 7, count: 32))
        #expect(config.google.clientSecret == "gsecret")
        #expect(config.google.apiBaseURL == "http://127.0.0.1:9000/calendar/v3")
        #expect(config.microsoft.graphBaseURL == "http://127.0.0.1:9001/v1.0")
        #expect(config.worker.concurrency == 8)
        #expect(config.worker.perTypeLimits == ["import_window": 16, "refresh_token": 8])
        #expect(config.queue.leaseDuration == .seconds(5))
        #expect(config.sync.lockTTL == .seconds(5))
        #expect(config.queue.maxLeaseExpiries == 5)
        #expect(config.queue.maxJobAge == .seconds(600))
        #expect(config.queue.maxDeferrals == 9)
        #expect(config.queue.maxJobBytes == 65536)
        #expect(config.queue.retry.maxAttempts == 4)
        #expect(config.queue.retry.base == .seconds(1))
        #expect(config.queue.retry.cap == .seconds(60))
        #expect(config.queue.deadLetterMaxCount == 100)
        #expect(config.queue.deadLetterMaxAge == .seconds(7 * 86_400))
        #expect(config.sync.importPastDays == 2 && config.sync.importFutureDays == 30)
        #expect(config.metrics.port == 0)
        #expect(config.logging.format == .json)
        #expect(config.logging.level == .debug)
    }

    @Test("the worker refuses a missing or malformed encryption key with one line naming calsync keygen")
    func encryptionKey() async throws {
        for value in [nil, "not base64!", Data(repeating: 1, count: 16).base64EncodedString()] {
            var environment: [String: String] = [:]
            environment["CALSYNC_ENCRYPTION_KEY"] = value
            await #expect {
                _ = try await CalsyncConfiguration.load(requiring: .worker, environment: environment)
            } throws: { error in
                guard let error = error as? ConfigurationError else { return false }
                return error.message.hasPrefix("calsync: CALSYNC_ENCRYPTION_KEY")
                    && error.message.contains("calsync keygen") && !error.message.contains("\n")
            }
        }
    }

    @Test("commands that do not need the key or the database do not require them")
    func onlyWhatIsNeeded() async throws {
        let environment = ["CALSYNC_DATABASE_URL": "nonsense", "CALSYNC_ENCRYPTION_KEY": "short"]
        _ = try await CalsyncConfiguration.load(requiring: .redis, environment: environment)
        await #expect(throws: ConfigurationError.self) {
            _ = try await CalsyncConfiguration.load(requiring: .database, environment: environment)
        }
        await #expect(throws: ConfigurationError.self) {
            _ = try await CalsyncConfiguration.load(requiring: .redis, environment: ["CALSYNC_REDIS_URL": "http://x"])
        }
    }

    @Test(
        "malformed values name their variable",
        arguments: [
            ("CALSYNC_WORKER_CONCURRENCY", "lots"), ("CALSYNC_JOB_LEASE_SECONDS", "-1"), ("CALSYNC_METRICS_PORT", "70000"),
            ("CALSYNC_TYPE_CONCURRENCY", "import_window"), ("CALSYNC_LOG_FORMAT", "xml"), ("CALSYNC_LOG_LEVEL", "loud"),
            ("CALSYNC_GOOGLE_TOKEN_URL", "not a url"),
        ])
    func malformed(variable: String, value: String) async throws {
        await #expect {
            _ = try await CalsyncConfiguration.load(
                requiring: .worker, environment: [variable: value, "CALSYNC_ENCRYPTION_KEY": Self.key])
        } throws: { error in
            (error as? ConfigurationError)?.message.contains(variable) == true
        }
    }

    @Test("a config file sets values and the environment overrides it")
    func configFile() async throws {
        let path = NSTemporaryDirectory() + "calsync-\(UUID().uuidString).env"
        try """
        # comment
        CALSYNC_REDIS_PREFIX=fromfile
        CALSYNC_WORKER_CONCURRENCY=12
        CALSYNC_GOOGLE_CLIENT_ID=
        """.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let config = try await CalsyncConfiguration.load(
            requiring: [], environment: ["CALSYNC_CONFIG_FILE": path, "CALSYNC_WORKER_CONCURRENCY": "3"])
        #expect(config.queue.prefix == "fromfile")
        #expect(config.worker.concurrency == 3)
        #expect(config.google.clientID.isEmpty)
        await #expect(throws: ConfigurationError.self) {
            _ = try await CalsyncConfiguration.load(requiring: [], environment: ["CALSYNC_CONFIG_FILE": path + ".missing"])
        }
    }

    @Test("the example config file parses and matches the defaults")
    func exampleFile() async throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.appendingPathComponent("config/calsync.env.example").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        // Every variable the configuration reader names is documented in the example and in the README.
        let readme = try String(contentsOfFile: root.appendingPathComponent("README.md").path, encoding: .utf8)
        let readerDirectory = root.appendingPathComponent("Sources/CalsyncApp/Configuration")
        var variables = Set<String>()
        for file in try FileManager.default.contentsOfDirectory(atPath: readerDirectory.path) where file.hasSuffix(".swift") {
            let source = try String(contentsOfFile: readerDirectory.appendingPathComponent(file).path, encoding: .utf8)
            for match in source.matches(of: /"(CALSYNC_[A-Z0-9_]+)"/) { variables.insert(String(match.1)) }
        }
        #expect(variables.count > 40, "the reader's variables were not found: \(variables.sorted())")
        for variable in variables.sorted() {
            #expect(text.contains(variable), "config/calsync.env.example does not document \(variable)")
            #expect(readme.contains(variable), "README.md does not document \(variable)")
        }
        let config = try await CalsyncConfiguration.load(requiring: [], environment: ["CALSYNC_CONFIG_FILE": path])
        #expect(config.worker.concurrency == 64)
    }

    @Test("durations of the CLI", arguments: [("30m", 1800), ("12h", 43_200), ("7d", 604_800), ("90s", 90), ("15", 15)])
    func durations(text: String, seconds: Int) {
        #expect(DurationText.parse(text) == .seconds(seconds))
    }

    @Test("malformed durations are refused", arguments: ["", "m", "-5m", "3w", "1.5h", "12 h"])
    func badDurations(text: String) {
        #expect(DurationText.parse(text) == nil)
    }
}
