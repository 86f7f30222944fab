import CalsyncGoogle
import CalsyncHTTP
import CalsyncMicrosoft
import CalsyncQueue
import CalsyncStore
import CalsyncSync
import Logging

/// Everything a calsync process can be told, with the documented defaults (see `config/calsync.env.example`).
/// Each default belongs to the component it configures (`QueueConfiguration`, `WorkerConfiguration`,
/// `SyncConfiguration`, `DatabaseConfiguration`, `Scheduler.Configuration`, the provider clients'
/// configurations) and is read from there: none is written twice.
public struct CalsyncConfiguration: Sendable {
    /// Redis, where the job queues live.
    public struct Redis: Sendable {
        /// `CALSYNC_REDIS_URL`; default `redis://127.0.0.1:6379/0`.
        public var url: String
        /// `CALSYNC_REDIS_PREFIX`: prefix of every key; default `calsync` (`{calsync}` on Redis Cluster).
        public var prefix: String

        /// Creates the defaults.
        public init() {
            self.url = "redis://127.0.0.1:6379/0"
            self.prefix = QueueConfiguration().prefix
        }
    }

    /// PostgreSQL, where results land.
    public struct Database: Sendable {
        /// `CALSYNC_DATABASE_URL`; default `postgres://calsync@127.0.0.1:5432/calsync`.
        public var url: String
        /// `CALSYNC_DATABASE_SCHEMA`: `search_path` to use; default none (the server's default).
        public var schema: String?
        /// `CALSYNC_DATABASE_CONNECT_TIMEOUT_SECONDS`: start-up connectivity check limit; default 5.
        public var connectTimeout: Duration
        /// `CALSYNC_DATABASE_MAX_CONNECTIONS`: pool size; default 20.
        public var maxConnections: Int
        /// `CALSYNC_DATABASE_STATEMENT_TIMEOUT_MS`, `CALSYNC_DATABASE_LOCK_TIMEOUT_MS`,
        /// `CALSYNC_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS`: server-side limits of every connection
        /// (0 = none); default 30,000 / 10,000 / 60,000 ms. `calsync migrate` uses its own, longer ones.
        public var timeouts: DatabaseConfiguration.Timeouts

        /// Creates the defaults.
        public init() {
            let defaults = DatabaseConfiguration()
            self.url = "postgres://calsync@127.0.0.1:5432/calsync"
            self.schema = nil
            self.connectTimeout = defaults.connectTimeout
            self.maxConnections = defaults.maximumConnections
            self.timeouts = defaults.timeouts
        }
    }

    /// The key that seals provider credentials.
    public struct Encryption: Sendable {
        /// `CALSYNC_ENCRYPTION_KEY` decoded: 32 bytes; default none (the worker refuses to start without it).
        public var key: [UInt8]?
        /// `CALSYNC_PREVIOUS_ENCRYPTION_KEYS` decoded: older keys that still open credentials sealed
        /// before a rotation (new seals always use `key`); default none.
        public var previousKeys: [[UInt8]]

        /// Creates the defaults (no key).
        public init() {
            self.key = nil
            self.previousKeys = []
        }
    }

    /// One OAuth provider (Google or Microsoft): client and endpoints.
    public struct Provider: Sendable {
        /// `CALSYNC_<PROVIDER>_CLIENT_ID`; default none.
        public var clientID: String?
        /// `CALSYNC_<PROVIDER>_CLIENT_SECRET`; default none.
        public var clientSecret: String?
        /// API base (`CALSYNC_GOOGLE_API_URL` / `CALSYNC_MICROSOFT_GRAPH_URL`).
        public var apiURL: String
        /// Token endpoint (`CALSYNC_<PROVIDER>_TOKEN_URL`).
        public var tokenURL: String
        /// Requests per minute for the whole app, shared by every worker (0 = no limit).
        /// `CALSYNC_GOOGLE_APP_REQUESTS_PER_MINUTE` (Google's project quota: 10,000); Microsoft has none (0).
        public var appRequestsPerMinute: Int
        /// Requests per minute per connection (0 = no limit): `CALSYNC_GOOGLE_USER_REQUESTS_PER_MINUTE`
        /// (600, Google's per-user quota), `CALSYNC_MICROSOFT_MAILBOX_REQUESTS_PER_MINUTE` (1,000: 10,000 per 10 minutes).
        public var connectionRequestsPerMinute: Int
        /// Concurrent requests per connection (0 = no limit): `CALSYNC_MICROSOFT_MAILBOX_CONCURRENCY` (4); Google 0.
        public var connectionConcurrency: Int

        /// Creates a provider's settings with its default endpoints and limits.
        public init(
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
        public static var googleDefaults: Provider {
            let client = GoogleCalendarProvider.Configuration(clientID: "", clientSecret: "")
            return Provider(
                apiURL: client.apiBaseURL, tokenURL: client.tokenURL, appRequestsPerMinute: 10_000,
                connectionRequestsPerMinute: 600)
        }

        /// Microsoft's defaults (the endpoints are the Graph client's).
        public static var microsoftDefaults: Provider {
            let client = MicrosoftCalendarProvider.Configuration(clientID: "", clientSecret: "")
            return Provider(
                apiURL: client.graphBaseURL, tokenURL: client.tokenURL, connectionRequestsPerMinute: 1_000,
                connectionConcurrency: 4)
        }

        /// The limits as the rate limiter takes them.
        public var rateLimits: ProviderRateLimits {
            ProviderRateLimits(
                appPerSecond: appRequestsPerMinute > 0 ? Double(appRequestsPerMinute) / 60 : nil,
                connectionPerSecond: connectionRequestsPerMinute > 0 ? Double(connectionRequestsPerMinute) / 60 : nil,
                connectionConcurrency: connectionConcurrency > 0 ? connectionConcurrency : nil)
        }
    }

    /// The worker loop and leases.
    public struct Worker: Sendable {
        /// `CALSYNC_WORKER_CONCURRENCY`: jobs in flight per process; default 64.
        public var concurrency: Int
        /// `CALSYNC_TYPE_CONCURRENCY`: per-type caps, e.g. `import_window=16,refresh_token=8`; default none.
        public var typeConcurrency: [String: Int]
        /// `CALSYNC_JOB_LEASE_SECONDS`: claim lifetime without renewal; default 30 s.
        public var leaseDuration: Duration
        /// `CALSYNC_MAX_LEASE_EXPIRIES`: lease expiries of a job running alone before it is dead (`lease_expired`); default 3.
        public var maxLeaseExpiries: Int
        /// `CALSYNC_SHUTDOWN_GRACE_SECONDS`: how long in-flight jobs may finish after SIGTERM; default 25 s.
        public var shutdownGrace: Duration
        /// `CALSYNC_JOB_MAX_AGE_SECONDS`: a job older than this is dead instead of retried; default 86 400 (24 h).
        public var jobMaxAge: Duration
        /// `CALSYNC_MAX_DEFERRALS`: times a job may be deferred (not an attempt) before it is dead; default 1000.
        public var maxDeferrals: Int
        /// `CALSYNC_MAX_JOB_BYTES`: longer jobs are dead (`invalid_job`, first 4 KiB kept) unparsed; default 1 MiB.
        public var maxJobBytes: Int
        /// `CALSYNC_JOB_TIMEOUT_SECONDS`: how long one run of a job may take before it is cancelled and retried;
        /// default 300 s. Must exceed `CALSYNC_PROVIDER_TIMEOUT_SECONDS`.
        public var jobTimeout: Duration
        /// `CALSYNC_PROVIDER_TIMEOUT_SECONDS`: how long one provider request may take; default 30 s (shortened to
        /// end before the job's deadline).
        public var providerTimeout: Duration
        /// `CALSYNC_PROVIDER_WRITE_SETTLE_SECONDS`: how long after its timeout a provider may still apply a write
        /// whose answer calsync never got; default 30 s. A newer revision verifies the event once that has passed.
        public var providerWriteSettle: Duration
        /// `CALSYNC_UNKNOWN_TYPE_SWEEP_SECONDS`: how often one worker of the fleet scans for jobs of unknown types; default 300 s.
        public var unknownTypeSweep: Duration

        /// Creates the defaults (the worker loop's, the queue engine's, the HTTP transport's and the sync rules').
        public init() {
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
    public struct Retry: Sendable {
        /// `CALSYNC_RETRY_MAX_ATTEMPTS`: attempts before a job is dead (`attempts_exhausted`); default 8.
        public var maxAttempts: Int
        /// `CALSYNC_RETRY_BASE_SECONDS`: the first backoff's upper bound; default 2 s.
        public var base: Duration
        /// `CALSYNC_RETRY_MAX_DELAY_SECONDS`: the cap on one backoff; default 900 s.
        public var maxDelay: Duration

        /// Creates the defaults (the queue engine's retry policy).
        public init() {
            let policy = QueueConfiguration().retry
            self.maxAttempts = policy.maxAttempts
            self.base = policy.base
            self.maxDelay = policy.cap
        }
    }

    /// Retention of the dead-letter queue.
    public struct DeadLetter: Sendable {
        /// `CALSYNC_DEAD_LETTER_MAX_COUNT`: records kept (oldest trimmed first); default 10 000.
        public var maxCount: Int
        /// `CALSYNC_DEAD_LETTER_MAX_AGE_DAYS`: records older than this are trimmed; default 180 days.
        public var maxAgeDays: Int

        /// Creates the defaults (the queue engine's).
        public init() {
            let queue = QueueConfiguration()
            self.maxCount = queue.deadLetterMaxCount
            self.maxAgeDays = Int(queue.deadLetterMaxAge.components.seconds / 86_400)
        }
    }

    /// The rolling import window around now.
    public struct Import: Sendable {
        /// `CALSYNC_IMPORT_PAST_DAYS`; default 1.
        public var pastDays: Int
        /// `CALSYNC_IMPORT_FUTURE_DAYS`; default 90.
        public var futureDays: Int

        /// Creates the defaults (the sync rules').
        public init() {
            let sync = SyncConfiguration()
            self.pastDays = sync.importPastDays
            self.futureDays = sync.importFutureDays
        }
    }

    /// The Prometheus endpoint.
    public struct Metrics: Sendable {
        /// `CALSYNC_METRICS_PORT`: `/metrics` port, 0 = off; default 9464.
        public var port: Int
        /// `CALSYNC_METRICS_HOST`: address to listen on; default `0.0.0.0`.
        public var host: String

        /// Creates the defaults.
        public init() {
            self.port = 9464
            self.host = "0.0.0.0"
        }
    }

    /// `calsync scheduler`: when imports, refreshes, replays and full resyncs are enqueued.
    public struct Scheduler: Sendable {
        /// `CALSYNC_SCHEDULER_TICK_SECONDS`: time between two ticks of the leader; default 15 s.
        public var tick: Duration
        /// `CALSYNC_IMPORT_INTERVAL_SECONDS`: time between two imports of a connection (a connection's
        /// `import_interval_seconds` overrides it); default 300 s.
        public var importInterval: Int
        /// `CALSYNC_REFRESH_MARGIN_SECONDS`: tokens expiring within this are refreshed (scheduler and worker); default 600 s.
        public var refreshMargin: Int
        /// `CALSYNC_FULL_RESYNC_HOURS`: time between two full resyncs of a connection's window; default 24 h.
        public var fullResyncHours: Int
        /// `CALSYNC_SCHEDULER_LEADER_TTL_SECONDS`: the leader lock's lifetime; a replica takes over within it
        /// when the leader dies; default 10 s.
        public var leaderTTL: Duration
        /// `CALSYNC_SCHEDULER_BATCH_SIZE`: connections per statement in one tick; default 5000.
        public var batchSize: Int

        /// Creates the defaults (the scheduler's).
        public init() {
            let scheduler = CalsyncApp.Scheduler.Configuration(prefix: QueueConfiguration().prefix)
            self.tick = scheduler.tick
            self.importInterval = scheduler.importIntervalSeconds
            self.refreshMargin = scheduler.refreshMarginSeconds
            self.fullResyncHours = scheduler.fullResyncAfterSeconds / 3600
            self.leaderTTL = scheduler.leaderTTL
            self.batchSize = scheduler.batchSize
        }
    }

    /// Log output.
    public struct Logging: Sendable {
        /// Line format of the log.
        public enum Format: String, Sendable {
            /// One human-readable line per entry.
            case text
            /// One JSON object per line: ts, level, label, message, metadata.
            case json
        }

        /// `CALSYNC_LOG_FORMAT`: `text` or `json`; default `text`.
        public var format: Format
        /// `CALSYNC_LOG_LEVEL`: trace, debug, info, notice, warning, error, critical; default `info`.
        public var level: Logger.Level

        /// Creates the defaults.
        public init() {
            self.format = .text
            self.level = .info
        }
    }

    /// Redis settings.
    public var redis: Redis
    /// PostgreSQL settings.
    public var database: Database
    /// The credentials key.
    public var encryption: Encryption
    /// Google OAuth client and endpoints.
    public var google: Provider
    /// Microsoft OAuth client and endpoints.
    public var microsoft: Provider
    /// Worker loop settings.
    public var worker: Worker
    /// Retry policy.
    public var retry: Retry
    /// Dead-letter retention.
    public var deadLetter: DeadLetter
    /// Import window.
    public var importWindow: Import
    /// Metrics endpoint.
    public var metrics: Metrics
    /// Log output.
    public var logging: Logging
    /// Scheduler settings.
    public var scheduler: Scheduler

    /// Creates the documented defaults.
    public init() {
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
    }
}

/// A configuration value is missing or malformed: the message names the variable and says what to set.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// Stable code: `missing_value`, `invalid_value` or `unreadable_file`.
    public var code: Code
    /// One line: the variable and what to set it to.
    public var message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
