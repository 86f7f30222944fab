import CalsyncCalDAV
import CalsyncConsole
import CalsyncGoogle
import CalsyncHTTP
import CalsyncJobs
import CalsyncMicrosoft
import CalsyncQueue
import CalsyncRedis
import CalsyncScheduler
import CalsyncSync
import CalsyncStore
import Configuration
import Foundation
import Logging
import SystemPackage

// Every key calsync reads, in one place. A key `calsync.worker.concurrency` is the environment
// variable `CALSYNC_WORKER_CONCURRENCY`; a `.env` file named by CALSYNC_CONFIG_FILE may set the same
// names, and the real environment overrides it.

extension CalsyncConfiguration {
    /// Which values a command cannot run without (the others keep their defaults when unset).
    package struct Requirements: OptionSet, Sendable {
        /// The raw bit set.
        package let rawValue: Int
        /// Creates a set from its bits.
        package init(rawValue: Int) { self.rawValue = rawValue }

        /// A valid `CALSYNC_REDIS_URL` (queues, dead, enqueue, worker).
        package static let redis = Requirements(rawValue: 1 << 0)
        /// A valid `CALSYNC_DATABASE_URL` (migrate, worker).
        package static let database = Requirements(rawValue: 1 << 1)
        /// A valid `CALSYNC_ENCRYPTION_KEY` and provider URLs (worker).
        package static let encryptionKey = Requirements(rawValue: 1 << 2)
        /// Everything a worker needs.
        package static let worker: Requirements = [.redis, .database, .encryptionKey]
    }

    /// Variables whose values never appear in logs or access reports.
    static let secretVariables: Set<String> = [
        "CALSYNC_ENCRYPTION_KEY", "CALSYNC_PREVIOUS_ENCRYPTION_KEYS", "CALSYNC_GOOGLE_CLIENT_SECRET", "CALSYNC_MICROSOFT_CLIENT_SECRET",
        "CALSYNC_REDIS_URL", "CALSYNC_DATABASE_URL", "CALSYNC_CONSOLE_PASSWORD_HASH",
    ]

    /// Reads the configuration from `environment` (default: the process's) over the `.env` file named by `CALSYNC_CONFIG_FILE`.
    package static func load(
        requiring requirements: Requirements,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> CalsyncConfiguration {
        let secrets = SecretsSpecifier<String, String>.specific(secretVariables)
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: secrets)
        ]
        if let path = environment["CALSYNC_CONFIG_FILE"], !path.isEmpty {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw ConfigurationError(
                    code: .unreadableFile,
                    message: "calsync: CALSYNC_CONFIG_FILE names \(path), which does not exist or cannot be read; "
                        + "point it at a KEY=value file such as config/calsync.env.example, or unset it")
            }
            do {
                providers.append(
                    try await EnvironmentVariablesProvider(
                        environmentFilePath: .init(path), allowMissing: false, secretsSpecifier: secrets))
            } catch {
                throw ConfigurationError(
                    code: .unreadableFile,
                    message: "calsync: CALSYNC_CONFIG_FILE \(path) cannot be read (\(error)); fix or unset it")
            }
        }
        return try CalsyncConfiguration(reader: ConfigReader(providers: providers), requiring: requirements)
    }

    /// Reads every key from `reader` into the components' configurations and validates what `requirements` names;
    /// throws one `ConfigurationError`. An unset key leaves the component's default.
    package init(reader: ConfigReader, requiring requirements: Requirements) throws {
        self.init()
        let values = Values(reader: reader)

        // Redis: the URL is checked only by commands that use Redis.
        if let url = values.string("CALSYNC_REDIS_URL", secret: true) {
            do {
                redis = try RedisConfiguration(url: url)
            } catch {
                // A command that does not use Redis keeps the default and never connects.
                guard !requirements.contains(.redis) else {
                    throw ConfigurationError(
                        code: .invalidValue,
                        message: "calsync: CALSYNC_REDIS_URL is malformed: set it to redis://[:password@]host:port/db, "
                            + "e.g. redis://127.0.0.1:6379/0")
                }
            }
        }
        queue.prefix = values.string("CALSYNC_REDIS_PREFIX") ?? queue.prefix
        scheduler.prefix = queue.prefix

        // PostgreSQL: likewise, the URL is checked only by commands that use the database.
        let schema = values.string("CALSYNC_DATABASE_SCHEMA")
        if let url = values.string("CALSYNC_DATABASE_URL", secret: true) {
            do {
                database = try DatabaseConfiguration(url: url, schema: schema)
            } catch {
                guard !requirements.contains(.database) else {
                    throw ConfigurationError(
                        code: .invalidValue,
                        message: "calsync: CALSYNC_DATABASE_URL is malformed: set it to "
                            + "postgres://user[:password]@host:port/db[?sslmode=disable|require|verify-full], "
                            + "e.g. postgres://calsync@127.0.0.1:5432/calsync")
                }
            }
        }
        if let schema { database.schema = schema }
        database.connectTimeout = try values.seconds(
            "CALSYNC_DATABASE_CONNECT_TIMEOUT_SECONDS", default: database.connectTimeout, range: 1...600)
        database.maximumConnections = try values.int(
            "CALSYNC_DATABASE_MAX_CONNECTIONS", default: database.maximumConnections, range: 1...1000)
        database.timeouts.statement = try values.milliseconds(
            "CALSYNC_DATABASE_STATEMENT_TIMEOUT_MS", default: database.timeouts.statement, range: 0...86_400_000)
        database.timeouts.lock = try values.milliseconds(
            "CALSYNC_DATABASE_LOCK_TIMEOUT_MS", default: database.timeouts.lock, range: 0...86_400_000)
        database.timeouts.idleInTransaction = try values.milliseconds(
            "CALSYNC_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS", default: database.timeouts.idleInTransaction,
            range: 0...86_400_000)

        // Encryption key: base64 of exactly 32 bytes.
        if let text = values.string("CALSYNC_ENCRYPTION_KEY", secret: true) {
            if let data = Data(base64Encoded: text), data.count == 32 {
                encryption.key = Array(data)
            } else if requirements.contains(.encryptionKey) {
                throw Self.keyError(problem: "is not base64 of exactly 32 bytes")
            }
        }
        if requirements.contains(.encryptionKey), encryption.key == nil {
            throw Self.keyError(problem: "is not set")
        }
        if let text = values.string("CALSYNC_PREVIOUS_ENCRYPTION_KEYS", secret: true) {
            for item in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
                guard let data = Data(base64Encoded: item), data.count == 32 else {
                    throw ConfigurationError(
                        code: .invalidValue,
                        message: "calsync: CALSYNC_PREVIOUS_ENCRYPTION_KEYS must be a comma-separated list of keys, "
                            + "each base64 of 32 bytes (the keys used before a rotation)")
                }
                encryption.previousKeys.append(Array(data))
            }
        }

        // Providers: clients, endpoints, quotas, and one request timeout for all of them.
        google.clientID = values.string("CALSYNC_GOOGLE_CLIENT_ID") ?? google.clientID
        google.clientSecret = values.string("CALSYNC_GOOGLE_CLIENT_SECRET", secret: true) ?? google.clientSecret
        google.apiBaseURL = values.string("CALSYNC_GOOGLE_API_URL") ?? google.apiBaseURL
        google.tokenURL = values.string("CALSYNC_GOOGLE_TOKEN_URL") ?? google.tokenURL
        microsoft.clientID = values.string("CALSYNC_MICROSOFT_CLIENT_ID") ?? microsoft.clientID
        microsoft.clientSecret = values.string("CALSYNC_MICROSOFT_CLIENT_SECRET", secret: true) ?? microsoft.clientSecret
        microsoft.graphBaseURL = values.string("CALSYNC_MICROSOFT_GRAPH_URL") ?? microsoft.graphBaseURL
        microsoft.tokenURL = values.string("CALSYNC_MICROSOFT_TOKEN_URL") ?? microsoft.tokenURL
        google.quota.appRequestsPerMinute = try values.int(
            "CALSYNC_GOOGLE_APP_REQUESTS_PER_MINUTE", default: google.quota.appRequestsPerMinute, range: 0...100_000_000)
        google.quota.connectionRequestsPerMinute = try values.int(
            "CALSYNC_GOOGLE_USER_REQUESTS_PER_MINUTE", default: google.quota.connectionRequestsPerMinute,
            range: 0...100_000_000)
        microsoft.quota.connectionRequestsPerMinute = try values.int(
            "CALSYNC_MICROSOFT_MAILBOX_REQUESTS_PER_MINUTE", default: microsoft.quota.connectionRequestsPerMinute,
            range: 0...100_000_000)
        microsoft.quota.connectionConcurrency = try values.int(
            "CALSYNC_MICROSOFT_MAILBOX_CONCURRENCY", default: microsoft.quota.connectionConcurrency, range: 0...1000)
        if requirements.contains(.encryptionKey) {
            try Self.checkHTTPURL(google.apiBaseURL, variable: "CALSYNC_GOOGLE_API_URL")
            try Self.checkHTTPURL(google.tokenURL, variable: "CALSYNC_GOOGLE_TOKEN_URL")
            try Self.checkHTTPURL(microsoft.graphBaseURL, variable: "CALSYNC_MICROSOFT_GRAPH_URL")
            try Self.checkHTTPURL(microsoft.tokenURL, variable: "CALSYNC_MICROSOFT_TOKEN_URL")
        }
        let providerTimeout = try values.seconds(
            "CALSYNC_PROVIDER_TIMEOUT_SECONDS", default: google.http.requestTimeout, range: 1...3600)
        google.http.requestTimeout = providerTimeout
        microsoft.http.requestTimeout = providerTimeout

        try readCalDAV(values)
        caldav.http.requestTimeout = providerTimeout

        // Worker loop.
        worker.concurrency = try values.int("CALSYNC_WORKER_CONCURRENCY", default: worker.concurrency, range: 1...10_000)
        worker.perTypeLimits = try values.typeLimits("CALSYNC_TYPE_CONCURRENCY") ?? worker.perTypeLimits
        worker.shutdownGrace = try values.seconds("CALSYNC_SHUTDOWN_GRACE_SECONDS", default: worker.shutdownGrace, range: 0...3600)
        worker.jobTimeout = try values.seconds("CALSYNC_JOB_TIMEOUT_SECONDS", default: worker.jobTimeout, range: 2...86_400)
        worker.unknownTypeSweepInterval = try values.seconds(
            "CALSYNC_UNKNOWN_TYPE_SWEEP_SECONDS", default: worker.unknownTypeSweepInterval, range: 1...86_400)
        guard worker.jobTimeout > providerTimeout else {
            throw ConfigurationError(
                code: .invalidJobTimeout,
                message: "CALSYNC_JOB_TIMEOUT_SECONDS (\(worker.jobTimeout.components.seconds)) must be longer than CALSYNC_PROVIDER_TIMEOUT_SECONDS (\(providerTimeout.components.seconds)): a provider request must fit inside its job")
        }

        // Queue engine: leases, job limits, retry policy, dead letters.
        queue.leaseDuration = try values.seconds("CALSYNC_JOB_LEASE_SECONDS", default: queue.leaseDuration, range: 1...86_400)
        queue.maxLeaseExpiries = try values.int("CALSYNC_MAX_LEASE_EXPIRIES", default: queue.maxLeaseExpiries, range: 1...1000)
        queue.maxJobAge = try values.seconds("CALSYNC_JOB_MAX_AGE_SECONDS", default: queue.maxJobAge, range: 1...31_536_000)
        queue.maxDeferrals = try values.int("CALSYNC_MAX_DEFERRALS", default: queue.maxDeferrals, range: 0...1_000_000)
        queue.maxJobBytes = try values.int("CALSYNC_MAX_JOB_BYTES", default: queue.maxJobBytes, range: 4096...536_870_912)
        queue.retry.maxAttempts = try values.int("CALSYNC_RETRY_MAX_ATTEMPTS", default: queue.retry.maxAttempts, range: 1...1000)
        queue.retry.base = try values.seconds("CALSYNC_RETRY_BASE_SECONDS", default: queue.retry.base, range: 0...86_400)
        queue.retry.cap = try values.seconds("CALSYNC_RETRY_MAX_DELAY_SECONDS", default: queue.retry.cap, range: 0...604_800)
        queue.deadLetterMaxCount = try values.int(
            "CALSYNC_DEAD_LETTER_MAX_COUNT", default: queue.deadLetterMaxCount, range: 1...100_000_000)
        queue.deadLetterMaxAge = .seconds(
            86_400 * (try values.int(
                "CALSYNC_DEAD_LETTER_MAX_AGE_DAYS", default: Int(queue.deadLetterMaxAge.components.seconds / 86_400),
                range: 1...36_500)))

        // Sync rules. A lock lives as long as its job: taken for one lease and renewed with the job's lease (one
        // script); a job whose lease or lock is lost is cancelled before its next provider call. A provider write
        // (all its requests) ends within two request timeouts; after that plus the settle margin, a write whose
        // answer never came can no longer land (a newer revision verifies then).
        sync.importPastDays = try values.int("CALSYNC_IMPORT_PAST_DAYS", default: sync.importPastDays, range: 0...3650)
        sync.importFutureDays = try values.int("CALSYNC_IMPORT_FUTURE_DAYS", default: sync.importFutureDays, range: 1...3650)
        sync.refreshMargin = try values.seconds("CALSYNC_REFRESH_MARGIN_SECONDS", default: sync.refreshMargin, range: 0...86_400)
        sync.providerWriteSettle = try values.seconds(
            "CALSYNC_PROVIDER_WRITE_SETTLE_SECONDS", default: sync.providerWriteSettle, range: 0...3600)
        sync.lockTTL = queue.leaseDuration
        sync.providerWriteWindow = providerTimeout * 2

        // Metrics.
        metrics.port = try values.int("CALSYNC_METRICS_PORT", default: metrics.port, range: 0...65_535)
        metrics.host = values.string("CALSYNC_METRICS_HOST") ?? metrics.host

        // Scheduler (it refreshes ahead with the sync rules' margin).
        scheduler.tick = try values.seconds("CALSYNC_SCHEDULER_TICK_SECONDS", default: scheduler.tick, range: 1...3600)
        scheduler.importIntervalSeconds = try values.int(
            "CALSYNC_IMPORT_INTERVAL_SECONDS", default: scheduler.importIntervalSeconds, range: 1...604_800)
        scheduler.refreshMarginSeconds = Int(sync.refreshMargin.components.seconds)
        scheduler.fullResyncAfterSeconds = 3600 * (try values.int(
            "CALSYNC_FULL_RESYNC_HOURS", default: scheduler.fullResyncAfterSeconds / 3600, range: 1...8760))
        scheduler.leaderTTL = try values.seconds(
            "CALSYNC_SCHEDULER_LEADER_TTL_SECONDS", default: scheduler.leaderTTL, range: 1...600)
        scheduler.batchSize = try values.int("CALSYNC_SCHEDULER_BATCH_SIZE", default: scheduler.batchSize, range: 1...100_000)

        // Push notifications.
        push = try Self.readPush(values, defaults: push)
        scheduler.push = push

        // Console.
        try readConsole(values)

        // Logging.
        if let format = values.string("CALSYNC_LOG_FORMAT") {
            guard let parsed = Logging.Format(rawValue: format.lowercased()) else {
                throw ConfigurationError(
                    code: .invalidValue, message: "calsync: CALSYNC_LOG_FORMAT must be text or json (got '\(format)')")
            }
            logging.format = parsed
        }
        if let level = values.string("CALSYNC_LOG_LEVEL") {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigurationError(
                    code: .invalidValue,
                    message: "calsync: CALSYNC_LOG_LEVEL must be one of trace, debug, info, notice, warning, error, "
                        + "critical (got '\(level)')")
            }
            logging.level = parsed
        }
    }

    static func keyError(problem: String) -> ConfigurationError {
        ConfigurationError(
            code: problem == "is not set" ? .missingValue : .invalidValue,
            message: "calsync: CALSYNC_ENCRYPTION_KEY \(problem): it must be base64 of 32 random bytes; "
                + "generate one with \"calsync keygen\"")
    }

    static func checkHTTPURL(_ text: String, variable: String) throws {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else {
            throw ConfigurationError(
                code: .invalidValue,
                message: "calsync: \(variable) is not an http(s) URL (got '\(text)'); set it to the provider's base URL or unset it for the default")
        }
    }
}

/// Typed reads of CALSYNC_* variables with one-line errors.
struct Values {
    let reader: ConfigReader

    /// The key for an environment variable name: `CALSYNC_REDIS_URL` → `calsync.redis.url`.
    func key(_ variable: String) -> ConfigKey {
        ConfigKey(variable.lowercased().split(separator: "_").map(String.init))
    }

    /// The trimmed value, or nil when unset or empty.
    func string(_ variable: String, secret: Bool = false) -> String? {
        guard let value = reader.string(forKey: key(variable), isSecret: secret)?
            .trimmingCharacters(in: .whitespaces), !value.isEmpty
        else { return nil }
        return value
    }

    /// A whole number in `range`, or `defaultValue` when unset.
    func int(_ variable: String, default defaultValue: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = string(variable) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(
                code: .invalidValue,
                message: "calsync: \(variable) must be a whole number from \(range.lowerBound) to \(range.upperBound) "
                    + "(got '\(text)'); unset it for the default \(defaultValue)")
        }
        return value
    }

    /// Whole seconds in `range`, or `defaultValue` when unset.
    func seconds(_ variable: String, default defaultValue: Duration, range: ClosedRange<Int>) throws -> Duration {
        .seconds(try int(variable, default: Int(defaultValue.components.seconds), range: range))
    }

    /// Whole milliseconds in `range`, or `defaultValue` when unset.
    func milliseconds(_ variable: String, default defaultValue: Duration, range: ClosedRange<Int>) throws -> Duration {
        .milliseconds(try int(variable, default: Int(defaultValue.milliseconds), range: range))
    }

    /// `type=N,type=N` pairs.
    func typeLimits(_ variable: String) throws -> [String: Int]? {
        guard let text = string(variable) else { return nil }
        var limits: [String: Int] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, !parts[0].isEmpty, let limit = Int(parts[1]), limit >= 1 else {
                throw ConfigurationError(
                    code: .invalidValue,
                    message: "calsync: \(variable) must be type=limit pairs separated by commas, "
                        + "e.g. import_window=16,refresh_token=8 (got '\(text)')")
            }
            limits[parts[0]] = limit
        }
        return limits
    }
}

extension CalsyncConfiguration {
    /// The push keys: `CALSYNC_PUBLIC_URL`, `CALSYNC_WEBHOOK_PORT`, `CALSYNC_WEBHOOK_HOST`, `CALSYNC_PUSH_DEBOUNCE_MS`,
    /// `CALSYNC_PUSH_POLL_INTERVAL_SECONDS`, `CALSYNC_PUSH_CHANNEL_TTL_SECONDS`, `CALSYNC_PUSH_RENEW_BEFORE_SECONDS`,
    /// `CALSYNC_PUSH_SYNC_TIMEOUT_SECONDS`.
    fileprivate static func readPush(_ values: Values, defaults: PushConfiguration) throws -> PushConfiguration {
        var push = defaults
        if let url = values.string("CALSYNC_PUBLIC_URL") {
            try checkHTTPURL(url, variable: "CALSYNC_PUBLIC_URL")
            push.publicURL = url
        }
        push.webhookPort = try values.int("CALSYNC_WEBHOOK_PORT", default: push.webhookPort, range: 0...65_535)
        push.webhookHost = values.string("CALSYNC_WEBHOOK_HOST") ?? push.webhookHost
        push.debounce = try values.milliseconds("CALSYNC_PUSH_DEBOUNCE_MS", default: push.debounce, range: 0...600_000)
        push.pollIntervalSeconds = try values.int(
            "CALSYNC_PUSH_POLL_INTERVAL_SECONDS", default: push.pollIntervalSeconds, range: 1...604_800)
        push.channelTTLSeconds = try values.int(
            "CALSYNC_PUSH_CHANNEL_TTL_SECONDS", default: push.channelTTLSeconds, range: 60...604_800)
        push.renewBeforeSeconds = try values.int(
            "CALSYNC_PUSH_RENEW_BEFORE_SECONDS", default: push.renewBeforeSeconds, range: 1...604_800)
        push.syncTimeoutSeconds = try values.int(
            "CALSYNC_PUSH_SYNC_TIMEOUT_SECONDS", default: push.syncTimeoutSeconds, range: 1...86_400)
        return push
    }

    /// The console's keys (`CALSYNC_CONSOLE_*`).
    private mutating func readConsole(_ values: Values) throws {
        console.host = values.string("CALSYNC_CONSOLE_HOST") ?? console.host
        console.port = try values.int("CALSYNC_CONSOLE_PORT", default: console.port, range: 0...65_535)
        console.passwordHash = values.string("CALSYNC_CONSOLE_PASSWORD_HASH", secret: true)
        console.sessionLifetime = .seconds(
            try values.int("CALSYNC_CONSOLE_SESSION_HOURS", default: Int(console.sessionLifetime.components.seconds / 3600), range: 1...720) * 3600)
        console.loginAttemptsPerMinute = try values.int(
            "CALSYNC_CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE", default: console.loginAttemptsPerMinute, range: 1...10_000)
        console.lockoutFailures = try values.int(
            "CALSYNC_CONSOLE_LOCKOUT_FAILURES", default: console.lockoutFailures, range: 1...1000)
        console.lockout = try values.seconds("CALSYNC_CONSOLE_LOCKOUT_SECONDS", default: console.lockout, range: 1...86_400)
        console.refreshInterval = try values.seconds(
            "CALSYNC_CONSOLE_REFRESH_SECONDS", default: console.refreshInterval, range: 1...3600)
        if let secure = values.string("CALSYNC_CONSOLE_SECURE_COOKIES") {
            switch secure.lowercased() {
            case "1", "true", "yes", "on": console.secureCookies = true
            case "0", "false", "no", "off": console.secureCookies = false
            default:
                throw ConfigurationError(
                    code: .invalidValue, message: "calsync: CALSYNC_CONSOLE_SECURE_COOKIES must be true or false (got '\(secure)')")
            }
        }
    }
}
