import AsyncHTTPClient
import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import CalsyncStore
import CalsyncSync
import Logging
import Metrics
import ServiceLifecycle

/// Builds and runs a worker process: clients, queue, handlers, worker loop and metrics in one `ServiceGroup`.
package enum WorkerAssembly {
    /// Everything a handler may need, built once per process.
    package struct Dependencies: Sendable {
        /// The whole configuration (provider URLs, key, import window, …).
        package let configuration: CalsyncConfiguration
        /// The Redis client shared by the queue and handlers.
        package let redis: RedisClient
        /// PostgreSQL (its client runs as a service of the group).
        package let database: Database
        /// The queue engine (handlers enqueue follow-up jobs with it).
        package let queue: JobQueue
        /// The process logger.
        package let logger: Logger
    }

    /// The job handlers of this process. The sync handlers of the contract's job types are added here.
    package static func makeHandlers(
        _ dependencies: Dependencies, diagnosticJobs: Bool, sync: SyncEnvironment?
    ) -> [any JobHandler] {
        var handlers: [any JobHandler] = []
        if diagnosticJobs {
            handlers.append(DiagnosticJobHandler(redis: dependencies.redis, prefix: dependencies.configuration.queue.prefix))
        }
        if let sync {
            handlers += PushAssembly.handlers(
                SyncAssembly.handlers(sync), sync: sync, configuration: dependencies.configuration, redis: dependencies.redis,
                database: dependencies.database, logger: dependencies.logger)
        }
        return handlers
    }

    /// Runs `calsync worker` until SIGTERM/SIGINT and a graceful shutdown; throws `CalsyncAppError` at start-up.
    package static func run(configuration: CalsyncConfiguration, diagnosticJobs: Bool) async throws {
        ProcessServices.runTasksOnEventLoops()
        Observability.bootstrapLogging(configuration.logging)
        let registry = MetricsBootstrap.bootstrap()
        let logger = Logger(label: "calsync.worker")

        let redisConfiguration = configuration.redis
        var databaseConfiguration = configuration.database
        databaseConfiguration.persistentConnections = true
        // Concurrent jobs' commands share pipelines (RedisClient); another connection opens only when the
        // queue backs up behind the busy ones. Four carry any concurrency (up to 512 commands a pipeline);
        // more spread the same commands over more, smaller pipelines (`make bench`: 480–494 µs of worker CPU
        // per export with 4, 570–601 µs with the 20 that one connection per four jobs gave at concurrency 64).
        let redisPool = 4
        try await ServiceChecks.checkRedis(redisConfiguration, logger: logger)
        try await ServiceChecks.checkDatabase(databaseConfiguration, logger: logger)

        // Runs in the service group below (first, so it stops last).
        let redis = RedisClient(configuration: redisConfiguration, logger: logger, poolSize: redisPool)
        let database = Database(configuration: databaseConfiguration, logger: logger)
        let queue = JobQueue(redis: redis, configuration: configuration.queue, logger: logger)
        let dependencies = Dependencies(
            configuration: configuration, redis: redis, database: database, queue: queue, logger: logger)
        // The provider clients share one HTTP client, sized for the worker's concurrency and shut down last.
        let http = HTTPClientService(connectionsPerHost: configuration.worker.concurrency)
        let sync: SyncEnvironment
        do {
            sync = try SyncAssembly.environment(
                configuration: configuration, redis: redis, database: database, queue: queue,
                httpClient: http.client, logger: logger)
        } catch {
            try? await http.client.shutdown()
            throw error
        }
        let handlers = makeHandlers(dependencies, diagnosticJobs: diagnosticJobs, sync: sync)
        var knownTypes = Set(CalsyncConfiguration.contractJobTypes)
        for handler in handlers { knownTypes.insert(handler.jobType) }
        let workerConfiguration = configuration.worker
        let worker = JobWorker(
            queue: queue, handlers: handlers, knownTypes: knownTypes, configuration: workerConfiguration, logger: logger)

        // Clients first, consumers last: shutdown runs in reverse, so the worker drains before PostgreSQL stops.
        var services: [any Service] = [redis, database.client, http]
        if let metrics = ProcessServices.metricsServer(configuration, registry: registry) { services.append(metrics) }
        // The heartbeat (the console's list of live workers) stops after the worker has drained.
        services.append(
            WorkerHeartbeat(
                worker: worker, redis: redis, prefix: configuration.queue.prefix, workerID: workerConfiguration.workerID,
                concurrency: workerConfiguration.concurrency, logger: logger))
        services.append(worker)

        // The worker stops claiming, lets jobs finish for the grace period and hands back the rest;
        // past that (plus slack for the hand-back) the group cancels whatever still runs.
        // JobWorker logs the start line (worker id, concurrency, types) and the stop line itself.
        try await ProcessServices.run(
            services, name: "worker", shutdownGrace: configuration.worker.shutdownGrace + .seconds(5), logger: logger)
    }
}
