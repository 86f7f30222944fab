import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import CalsyncStore
import CalsyncSync
import CalsyncSyncRedis
import CalsyncWebhooks
import Logging
import ServiceLifecycle

/// Wires push: the worker's `renew_push` handler and the push-aware import and disconnect, and the
/// `calsync webhooks` process (Redis, PostgreSQL, the receiver and the HTTP server in one `ServiceGroup`).
package enum PushAssembly {
    /// The worker's handlers with push: `import_window` clears the connection's push mark when it starts,
    /// `disconnect_calendar` stops the channels first, and `renew_push` keeps them open.
    package static func handlers(
        _ handlers: [any JobHandler], sync: SyncEnvironment, configuration: CalsyncConfiguration, redis: RedisClient,
        database: Database, logger: Logger
    ) -> [any JobHandler] {
        let store = PostgresPushStore(client: database.client, logger: logger)
        let gate = RedisPushImportGate(redis: redis, prefix: configuration.queue.prefix, debounce: configuration.push.debounce)
        var wrapped: [any JobHandler] = handlers.map { handler in
            switch handler.jobType {
            case ImportWindowPayload.jobType: PushAwareImportHandler(wrapping: handler, gate: gate)
            case DisconnectCalendarPayload.jobType: PushAwareDisconnectHandler(wrapping: handler, environment: sync, pushStore: store)
            default: handler
            }
        }
        wrapped.append(RenewPushHandler(environment: sync, pushStore: store, push: configuration.push))
        return wrapped
    }

    /// Runs `calsync webhooks` until SIGTERM/SIGINT; throws `CalsyncAppError` at start-up.
    package static func runWebhooks(configuration: CalsyncConfiguration) async throws {
        ProcessServices.runTasksOnEventLoops()
        Observability.bootstrapLogging(configuration.logging)
        let registry = MetricsBootstrap.bootstrap()
        let logger = Logger(label: "calsync.webhooks")

        let redisConfiguration = configuration.redis
        var databaseConfiguration = configuration.database
        databaseConfiguration.persistentConnections = true
        try await ServiceChecks.checkRedis(redisConfiguration, logger: logger)
        try await ServiceChecks.checkDatabase(databaseConfiguration, logger: logger)

        let redis = RedisClient(configuration: redisConfiguration, logger: logger, poolSize: 16)
        let database = Database(configuration: databaseConfiguration, logger: logger)
        let receiver = WebhookReceiver(
            store: PostgresPushStore(client: database.client, logger: logger),
            gate: RedisPushImportGate(redis: redis, prefix: configuration.queue.prefix, debounce: configuration.push.debounce),
            capacity: configuration.push.inboxCapacity, logger: logger)
        let server = WebhooksServer(receiver: receiver, configuration: configuration.push, logger: logger) { port in
            logger.info("calsync webhooks listening", metadata: ["port": "\(port)"])
        }
        if configuration.push.publicURL == nil {
            logger.warning("CALSYNC_PUBLIC_URL is not set: the worker opens no push channels, so nothing will call this process")
        }
        var services: [any Service] = [redis, database.client, receiver]
        if let metrics = ProcessServices.metricsServer(configuration, registry: registry) { services.append(metrics) }
        services.append(server)
        try await ProcessServices.run(services, name: "webhooks", shutdownGrace: .seconds(10), logger: logger)
    }
}
