import CalsyncCalDAV
import CalsyncConsole
import CalsyncGoogle
import CalsyncMicrosoft
import CalsyncQueue
import CalsyncRedis
import CalsyncStore
import CalsyncScheduler
import CalsyncSync
import Logging

/// Everything a calsync process can be told (see `config/calsync.env.example`): one value of each component's own
/// configuration type, which owns its defaults (`RedisConfiguration`, `DatabaseConfiguration`, `QueueConfiguration`,
/// `WorkerConfiguration`, `SyncConfiguration`, the provider clients' and the scheduler's configurations). The reader
/// in `CalsyncConfiguration+ConfigReader.swift` names every variable and writes it into those types; no default is
/// written here.
package struct CalsyncConfiguration: Sendable {
    /// The key that seals provider credentials (this target's own setting).
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

    /// The Prometheus endpoint (this target's own setting).
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

    /// Log output (this target's own setting).
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

    /// Redis, where the job queues live: `CALSYNC_REDIS_URL`.
    package var redis: RedisConfiguration
    /// PostgreSQL, where results land: `CALSYNC_DATABASE_*`.
    package var database: DatabaseConfiguration
    /// The credentials key.
    package var encryption: Encryption
    /// The queue engine: key prefix, leases, retry policy, dead-letter retention, job limits.
    package var queue: QueueConfiguration
    /// The worker loop: concurrency, per-type caps, shutdown grace, job timeout.
    package var worker: WorkerConfiguration
    /// The sync rules: import window, refresh margin, lock lifetime, provider write window and settle time.
    package var sync: SyncConfiguration
    /// The Google client: endpoints, OAuth client (empty = not configured), request timeout, quotas.
    package var google: GoogleCalendarProvider.Configuration
    /// The Microsoft Graph client: endpoints, OAuth client (empty = not configured), request timeout, quotas.
    package var microsoft: MicrosoftCalendarProvider.Configuration
    /// `calsync scheduler`: ticks, intervals, leader lease, batch size.
    package var scheduler: Scheduler.Configuration
    /// The CalDAV client (`CALSYNC_CALDAV_*`): discovery, multiget batches, per-host and per-connection limits.
    package var caldav = CalDAVConfiguration()
    /// Metrics endpoint.
    package var metrics: Metrics
    /// Log output.
    package var logging: Logging
    /// Push notifications (`calsync webhooks`, channels, the safety-net interval); defaults in `PushConfiguration`.
    package var push: PushConfiguration
    /// `calsync console`: the operators' web page.
    package var console: ConsoleConfiguration

    /// Every component's defaults.
    package init() {
        self.redis = RedisConfiguration()
        self.database = DatabaseConfiguration()
        self.encryption = Encryption()
        self.queue = QueueConfiguration()
        self.worker = WorkerConfiguration()
        self.sync = SyncConfiguration()
        self.google = GoogleCalendarProvider.Configuration(clientID: "", clientSecret: "")
        self.microsoft = MicrosoftCalendarProvider.Configuration(clientID: "", clientSecret: "")
        self.scheduler = Scheduler.Configuration(prefix: queue.prefix)
        self.metrics = Metrics()
        self.logging = Logging()
        self.push = PushConfiguration()
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
