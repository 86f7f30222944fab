import CalsyncConsole
import CalsyncJobs
import CalsyncGoogle
import CalsyncHTTP
import CalsyncMicrosoft
import CalsyncQueue
import CalsyncStore
import CalsyncScheduler
import CalsyncSync
import CalsyncSyncRedis
import Logging

/// Everything a calsync process can be told, with the documented defaults (see `config/calsync.env.example`).
/// Each default belongs to the component it configures (`QueueConfiguration`, `WorkerConfiguration`,
/// `SyncConfiguration`, `DatabaseConfiguration`, `Scheduler.Configuration`, the provider clients'
/// configurations) and is read from there: none is written twice.
package struct CalsyncConfiguration: Sendable {
    /// Redis, where the job queues live.
    package struct Redis: Sendable {
        /// `CALSYNC_REDIS_URL`; default `redis://127.0.0.1:6379/0`.
        package var url: String
        /// `CALSYNC_REDIS_PREFIX`: prefix of every key; default `calsync` (`{calsync}` on Redis Cluster).
        package var prefix: String

        /// Creates the defaults.
        package init() {
            self.url = "redis://127.0.0.1:6379/0"
            self.prefix = QueueConfiguration().prefix
        }
    }

    /// PostgreSQL, where results land.
    package struct Database: Sendable {
        /// `CALSYNC_DATABASE_URL`; default `postgres://calsync@127.0.0.1:5432/calsync`.
        package var url: String
        /// `CALSYNC_DATABASE_SCHEMA`: `search_path` to use; default none (the server's default).
        package var schema: String?
        /// `CALSYNC_DATABASE_CONNECT_TIMEOUT_SECONDS`: start-up connectivity check limit; default 5.
        package var connectTimeout: Duration
        /// `CALSYNC_DATABASE_MAX_CONNECTIONS`: pool size; default 20.
        package var maxConnections: Int
        /// `CALSYNC_DATABASE_STATEMENT_TIMEOUT_MS`, `CALSYNC_DATABASE_LOCK_TIMEOUT_MS`,
        /// `CALSYNC_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS`: server-side limits of every connection
        /// (0 = none); default 30,000 / 10,000 / 60,000 ms. `calsync migrate` uses its own, longer ones.
        package var timeouts: DatabaseConfiguration.Timeouts

        /// Creates the defaults.
        package init() {
            let defaults = DatabaseConfiguration()
            self.url = "postgres://calsync@127.0.0.1:5432/calsync"
            self.schema = nil
            self.connectTimeout = defaults.connectTimeout
            self.maxConnections = defaults.maximumConnections
            self.timeouts = defaults.timeouts
        }
    }

    /// The key that seals provider credentials.
    package struct Encryption: Sendable {
        /// `CALSYNC_ENCRYPTION_KEY` decoded: 32 bytes; default none (the worker refuses to start without it).
        package var key: [UInt8]?
        /// `CALSYNC_PREVIOUS_ENCRYPTION_KEYS` decoded: older keys that still open credentials sealed
        /// before a rotation (new seals always use `key`); default none.
        package var previousKeys: [[UInt8]]

        /// Creates the defaults (no key).
        package init() {
            self.key = nil
            self.previousKeys = []
        }
    }

    /// One OAuth provider (Google or Microsoft): client and endpoints.
    package struct Provider: Sendable {
        /// `CALSYNC_<PROVIDER>_CLIENT_ID`; default none.
        package var clientID: String?
        /// `CALSYNC_<PROVIDER>_CLIENT_SECRET`; default none.
        package var clientSecret: String?
        /// API base (`CALSYNC_GOOGLE_API_URL` / `CALSYNC_MICROSOFT_GRAPH_URL`).
        package var apiURL: String
        /// Token endpoint (`CALSYNC_<PROVIDER>_TOKEN_URL`).
        package var tokenURL: String
        /// Requests per minute for the whole app, shared by every worker (0 = no limit).
        /// `CALSYNC_GOOGLE_APP_REQUESTS_PER_MINUTE` (Google's project quota: 10,000); Microsoft has none (0).
        package var appRequestsPerMinute: Int
        /// Requests per minute per connection (0 = no limit): `CALSYNC_GOOGLE_USER_REQUESTS_PER_MINUTE`
        /// (600, Google's per-user quota), `CALSYNC_MICROSOFT_MAILBOX_REQUESTS_PER_MINUTE` (1,000: 10,000 per 10 minutes).
        package var connectionRequestsPerMinute: Int
        /// Concurrent requests per connection (0 = no limit): `CALSYNC_MICROSOFT_MAILBOX_CONCURRENCY` (4); Google 0.
        package var connectionConcurrency: Int

        /// Creates a provider's settings with its default endpoints and limits.
        package init(
            apiURL: String, tokenURL: String, appRequestsPerMinute: Int = 0, connectionRequestsPerMinute: Int = 0,
            connectionConcurrency: Int = 0
        ) {
            self.clientID = nil
            self.clientSecret = nil
            self.apiURL = apiURL
            self.tokenURL = tokenURL
            self.appRequestsPerMinute = appRequestsPerMinute
            self.connectionRequestsPerMinute = connectionRequestsPerMinute
            self.connectionConcurrency = connectionConcurrency
        }

        /// Google's defaults (the endpoints are the Google client's).
        package static var googleDefaults: Provider {
            let client = GoogleCalendarProvider.Configuration(clientID: "", clientSecret: "")
            return Provider(
                apiURL: client.apiBaseURL, tokenURL: client.tokenURL, appRequestsPerMinute: 10_000,
                connectionRequestsPerMinute: 600)
        }

        /// Microsoft's defaults (the endpoints are the Graph client's).
        package static var microsoftDefaults: Provider {
            let client = MicrosoftCalendarProvider.Configuration(clientID: "", clientSecret: "")
            return Provider(
                apiURL: client.graphBaseURL, tokenURL: client.tokenURL, connectionRequestsPerMinute: 1_000,
                connectionConcurrency: 4)
        }

        /// The limits as the rate limiter takes them.
        package var rateLimits: ProviderRateLimits {
            ProviderRateLimits(
                appPerSecond: appRequestsPerMinute > 0 ? Double(appRequestsPerMinute) / 60 : nil,
                connectionPerSecond: connectionRequestsPerMinute > 0 ? Double(connectionRequestsPerMinute) / 60 : nil,
                connectionConcurrency: connectionConcurrency > 0 ? connectionConcurrency : nil)
        }
    }

    /// The worker loop and leases.
    package struct Worker: Sendable {
        /// `CALSYNC_WORKER_CONCURRENCY`: jobs in flight per process; default 64.
        package var concurrency: Int
        /// `CALSYNC_TYPE_CONCURRENCY`: per-type caps, e.g. `import_window=16,refresh_token=8`; default none.
        package var typeConcurrency: [String: Int]
        /// `CALSYNC_JOB_LEASE_SECONDS`: claim lifetime without renewal; default 30 s.
        package var leaseDuration: Duration
        /// `CALSYNC_MAX_LEASE_EXPIRIES`: lease expiries of a job running alone before it is dead (`lease_expired`); default 3.
        package var maxLeaseExpiries: Int
        /// `CALSYNC_SHUTDOWN_GRACE_SECONDS`: how long in-flight jobs may finish after SIGTERM; default 25 s.
        package var shutdownGrace: Duration
        /// `CALSYNC_JOB_MAX_AGE_SECONDS`: a job older than this is dead instead of retried; default 86 400 (24 h).
        package var jobMaxAge: Duration
        /// `CALSYNC_MAX_DEFERRALS`: times a job may be deferred (not an attempt) before it is dead; default 1000.
        package var maxDeferrals: Int
        /// `CALSYNC_MAX_JOB_BYTES`: longer jobs are dead (`invalid_job`, first 4 KiB kept) unparsed; default 1 MiB.
        package var maxJobBytes: Int
        /// `CALSYNC_JOB_TIMEOUT_SECONDS`: how long one run of a job may take before it is cancelled and retried;
        /// default 300 s. Must exceed `CALSYNC_PROVIDER_TIMEOUT_SECONDS`.
        package var jobTimeout: Duration
        /// `CALSYNC_PROVIDER_TIMEOUT_SECONDS`: how long one provider request may take; default 30 s (shortened to
        /// end before the job's deadline).
        package var providerTimeout: Duration
        /// `CALSYNC_PROVIDER_WRITE_SETTLE_SECONDS`: how long after its timeout a provider may still apply a write
        /// whose answer calsync never got; default 30 s. A newer revision verifies the event once that has passed.
        package var providerWriteSettle: Duration
        /// `CALSYNC_UNKNOWN_TYPE_SWEEP_SECONDS`: how often one worker of the fleet scans for jobs of unknown types; default 300 s.
        package var unknownTypeSweep: Duration

        /// Creates the defaults (the worker loop's, the queue engine's, the HTTP transport's and the sync rules').
        package init() {
            let worker = WorkerConfiguration()
            let queue = QueueConfiguration()
            self.concurrency = worker.concurrency
            self.typeConcurrency = worker.perTypeLimits
            self.leaseDuration = queue.leaseDuration
            self.maxLeaseExpiries = queue.maxLeaseExpiries
            self.shutdownGrace = worker.shutdownGrace
            self.jobMaxAge = queue.maxJobAge
            self.maxDeferrals = queue.maxDeferrals
            self.maxJobBytes = queue.maxJobBytes
            self.jobTimeout = worker.jobTimeout
            self.providerTimeout = HTTPTransport.Configuration().requestTimeout
            self.providerWriteSettle = SyncConfiguration().providerWriteSettle
            self.unknownTypeSweep = worker.unknownTypeSweepInterval
        }
    }

    /// Retry policy for retryable errors: capped exponential backoff with full jitter.
    package struct Retry: Sendable {
        /// `CALSYNC_RETRY_MAX_ATTEMPTS`: attempts before a job is dead (`attempts_exhausted`); default 8.
        package var maxAttempts: Int
        /// `CALSYNC_RETRY_BASE_SECONDS`: the first backoff's upper bound; default 2 s.
        package var base: Duration
        /// `CALSYNC_RETRY_MAX_DELAY_SECONDS`: the cap on one backoff; default 900 s.
        package var maxDelay: Duration

        /// Creates the defaults (the queue engine's retry policy).
        package init() {
            let policy = QueueConfiguration().retry
            self.maxAttempts = policy.maxAttempts
            self.base = policy.base
            self.maxDelay = policy.cap
        }
    }

    /// Retention of the dead-letter queue.
    package struct DeadLetter: Sendable {
        /// `CALSYNC_DEAD_LETTER_MAX_COUNT`: records kept (oldest trimmed first); default 10 000.
        package var maxCount: Int
        /// `CALSYNC_DEAD_LETTER_MAX_AGE_DAYS`: records older than this are trimmed; default 180 days.
        package var maxAgeDays: Int

        /// Creates the defaults (the queue engine's).
        package init() {
            let queue = QueueConfiguration()
            self.maxCount = queue.deadLetterMaxCount
            self.maxAgeDays = Int(queue.deadLetterMaxAge.components.seconds / 86_400)
        }
    }

    /// The rolling import window around now.
    package struct Import: Sendable {
        /// `CALSYNC_IMPORT_PAST_DAYS`; default 1.
        package var pastDays: Int
        /// `CALSYNC_IMPORT_FUTURE_DAYS`; default 90.
        package var futureDays: Int

        /// Creates the defaults (the sync rules').
        package init() {
            let sync = SyncConfiguration()
            self.pastDays = sync.importPastDays
            self.futureDays = sync.importFutureDays
        }
    }

    /// The Prometheus endpoint.
    package struct Metrics: Sendable {
        /// `CALSYNC_METRICS_PORT`: `/metrics` port, 0 = off; default 9464.
        package var port: Int
        /// `CALSYNC_METRICS_HOST`: address to listen on; default `0.0.0.0`.
        package var host: String

        /// Creates the defaults.
        package init() {
            self.port = 9464
            self.host = "0.0.0.0"
        }
    }

    /// `calsync scheduler`: when imports, refreshes, replays and full resyncs are enqueued.
    package struct Scheduler: Sendable {
        /// `CALSYNC_SCHEDULER_TICK_SECONDS`: time between two ticks of the leader; default 15 s.
        package var tick: Duration
        /// `CALSYNC_IMPORT_INTERVAL_SECONDS`: time between two imports of a connection (a connection's
        /// `import_interval_seconds` overrides it); default 300 s.
        package var importInterval: Int
        /// `CALSYNC_REFRESH_MARGIN_SECONDS`: tokens expiring within this are refreshed (scheduler and worker); default 600 s.
        package var refreshMargin: Int
        /// `CALSYNC_FULL_RESYNC_HOURS`: time between two full resyncs of a connection's window; default 24 h.
        package var fullResyncHours: Int
        /// `CALSYNC_SCHEDULER_LEADER_TTL_SECONDS`: the leader lock's lifetime; a replica takes over within it
        /// when the leader dies; default 10 s.
        package var leaderTTL: Duration
        /// `CALSYNC_SCHEDULER_BATCH_SIZE`: connections per statement in one tick; default 5000.
        package var batchSize: Int

        /// Creates the defaults (the scheduler's).
        package init() {
            let scheduler = CalsyncScheduler.Scheduler.Configuration(prefix: QueueConfiguration().prefix)
            self.tick = scheduler.tick
            self.importInterval = scheduler.importIntervalSeconds
            self.refreshMargin = scheduler.refreshMarginSeconds
            self.fullResyncHours = scheduler.fullResyncAfterSeconds / 3600
            self.leaderTTL = scheduler.leaderTTL
            self.batchSize = scheduler.batchSize
        }
    }

    /// Log output.
    package struct Logging: Sendable {
        /// Line format of the log.
        package enum Format: String, Sendable {
            /// One human-readable line per entry.
            case text
            /// One JSON object per line: ts, level, label, message, metadata.
            case json
        }

        /// `CALSYNC_LOG_FORMAT`: `text` or `json`; default `text`.
        package var format: Format
        /// `CALSYNC_LOG_LEVEL`: trace, debug, info, notice, warning, error, critical; default `info`.
        package var level: Logger.Level

        /// Creates the defaults.
        package init() {
            self.format = .text
            self.level = .info
        }
    }

    /// Redis settings.
    package var redis: Redis
    /// PostgreSQL settings.
    package var database: Database
    /// The credentials key.
    package var encryption: Encryption
    /// Google OAuth client and endpoints.
    package var google: Provider
    /// Microsoft OAuth client and endpoints.
    package var microsoft: Provider
    /// Worker loop settings.
    package var worker: Worker
    /// Retry policy.
    package var retry: Retry
    /// Dead-letter retention.
    package var deadLetter: DeadLetter
    /// Import window.
    package var importWindow: Import
    /// Metrics endpoint.
    package var metrics: Metrics
    /// Log output.
    package var logging: Logging
    /// Scheduler settings.
    package var scheduler: Scheduler
    /// `calsync console`: the operators' web page.
    package var console: ConsoleConfiguration

    /// Creates the documented defaults.
    package init() {
        self.redis = Redis()
        self.database = Database()
        self.encryption = Encryption()
        self.google = .googleDefaults
        self.microsoft = .microsoftDefaults
        self.worker = Worker()
        self.retry = Retry()
        self.deadLetter = DeadLetter()
        self.importWindow = Import()
        self.metrics = Metrics()
        self.logging = Logging()
        self.scheduler = Scheduler()
        self.console = ConsoleConfiguration()
    }
}

/// A configuration value is missing or malformed: the message names the variable and says what to set.
package struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// Stable code: `missing_value`, `invalid_value` or `unreadable_file`.
    package var code: Code
    /// One line: the variable and what to set it to.
    package var message: String

    /// Creates an error.
    package init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}
