import AsyncHTTPClient
import CalsyncCalDAV
import CalsyncGoogle
import CalsyncHTTP
import CalsyncJobs
import CalsyncMicrosoft
import CalsyncQueue
import CalsyncRedis
import CalsyncStore
import CalsyncSync
import CalsyncSyncRedis
import Logging
import NIOCore
import NIOHTTPCompression
import ServiceLifecycle

/// The provider clients configured for this process (a provider without a client id and secret is absent).
package struct ConfiguredProviders: ProviderDirectory {
    let google: GoogleCalendarProvider?
    let microsoft: MicrosoftCalendarProvider?
    let caldav: CalDAVCalendarProvider

    /// Builds the clients that the configuration has credentials for.
    package init(configuration: CalsyncConfiguration, httpClient: HTTPClient, logger: Logger) {
        google =
            configuration.google.clientID.isEmpty || configuration.google.clientSecret.isEmpty
            ? nil : GoogleCalendarProvider(httpClient: httpClient, configuration: configuration.google, logger: logger)
        microsoft =
            configuration.microsoft.clientID.isEmpty || configuration.microsoft.clientSecret.isEmpty
            ? nil : MicrosoftCalendarProvider(httpClient: httpClient, configuration: configuration.microsoft, logger: logger)
        caldav = CalDAVCalendarProvider(httpClient: httpClient, configuration: configuration.caldav, logger: logger)
    }

    package func provider(_ kind: ProviderKind) -> (any CalendarProvider)? {
        switch kind {
        case .google: google
        case .microsoft: microsoft
        case .caldav: caldav
        }
    }
}

/// The HTTP client of a worker process, shut down when the process stops.
package struct HTTPClientService: Service {
    /// The client; its connection pool is sized for the worker's concurrency.
    package let client: HTTPClient

    /// Creates a client allowing `connectionsPerHost` concurrent HTTP/1 connections per provider host.
    package init(connectionsPerHost: Int) {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(8, connectionsPerHost)
        configuration.connectionPool.idleTimeout = .seconds(60)
        configuration.decompression = .enabled(limit: .ratio(20))
        // No provider call needs a redirect (paging links are followed explicitly, on the configured origin):
        // a redirect answer is returned as it is, so no request, token request above all, goes elsewhere.
        configuration.redirectConfiguration = .disallow
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    package func run() async throws {
        try? await gracefulShutdown()
        try await client.shutdown()
    }
}

/// Builds the sync rules' environment and the handlers of the contract's six job types.
package enum SyncAssembly {
    /// The sync environment of a worker process.
    package static func environment(
        configuration: CalsyncConfiguration, redis: RedisClient, database: Database, queue: JobQueue,
        httpClient: HTTPClient, logger: Logger
    ) throws -> SyncEnvironment {
        guard let key = configuration.encryption.key else {
            throw CalsyncAppError.config(
                ConfigurationError(
                    code: .missingEncryptionKey,
                    message: "CALSYNC_ENCRYPTION_KEY must be base64 of 32 random bytes; generate one with \"calsync keygen\""))
        }
        let sealer: CredentialSealer
        do {
            sealer = try CredentialSealer(currentKey: key, previousKeys: configuration.encryption.previousKeys)
        } catch {
            throw CalsyncAppError.config(ConfigurationError(code: .invalidEncryptionKey, message: "\(error)"))
        }
        return SyncEnvironment(
            store: PostgresSyncStore(client: database.client, logger: logger),
            providers: ConfiguredProviders(configuration: configuration, httpClient: httpClient, logger: logger),
            sealer: sealer,
            locks: RedisSyncLocks(redis: redis, prefix: configuration.queue.prefix),
            events: RedisSyncEvents(redis: redis, prefix: configuration.queue.prefix),
            enqueuer: QueueJobEnqueuer(queue: queue),
            limiter: RedisRateLimiter(
                redis: redis, prefix: configuration.queue.prefix,
                limits: [
                    "google": ProviderRateLimits(configuration.google.quota),
                    "microsoft": ProviderRateLimits(configuration.microsoft.quota),
                    "caldav": configuration.caldavRateLimits,
                ]),
            configuration: configuration.sync)
    }

    /// The handlers of `connect_calendar`, `disconnect_calendar`, `export_appointment`,
    /// `delete_external_event`, `import_window` and `refresh_token`.
    package static func handlers(_ environment: SyncEnvironment) -> [any JobHandler] {
        [
            ConnectCalendarHandler(environment: environment),
            DisconnectCalendarHandler(environment: environment),
            ExportAppointmentHandler(environment: environment),
            DeleteExternalEventHandler(environment: environment),
            ImportWindowHandler(environment: environment),
            RefreshTokenHandler(environment: environment),
        ]
    }
}
