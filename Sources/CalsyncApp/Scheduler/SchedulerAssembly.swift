import CalsyncRedis
import CalsyncScheduler
import CalsyncStore
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Builds and runs `calsync scheduler`: Redis, PostgreSQL, the metrics endpoint and the `Scheduler` in one `ServiceGroup`.
package enum SchedulerAssembly {
    /// The scheduler's settings from the process configuration.
    package static func schedulerConfiguration(_ configuration: CalsyncConfiguration) -> Scheduler.Configuration {
        var scheduler = Scheduler.Configuration(prefix: configuration.redis.prefix)
        scheduler.tick = configuration.scheduler.tick
        scheduler.importIntervalSeconds = configuration.scheduler.importInterval
        scheduler.refreshMarginSeconds = configuration.scheduler.refreshMargin
        scheduler.fullResyncAfterSeconds = configuration.scheduler.fullResyncHours * 3600
        scheduler.leaderTTL = configuration.scheduler.leaderTTL
        scheduler.batchSize = configuration.scheduler.batchSize
        scheduler.push = configuration.push
        return scheduler
    }

    /// A replica id for the leader lock: host, process id and a random suffix.
    package static func replicaID() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs the scheduler until SIGTERM/SIGINT (the leader then releases its lock), or, with `once`, one
    /// tick if this replica can lead, printing what it enqueued. Throws `CalsyncAppError` at start-up.
    package static func run(configuration: CalsyncConfiguration, once: Bool) async throws {
        ProcessServices.runTasksOnEventLoops()
        Observability.bootstrapLogging(configuration.logging)
        let registry = once ? nil : MetricsBootstrap.bootstrap()
        let logger = Logger(label: "calsync.scheduler")

        let redisConfiguration = try configuration.redisConfiguration()
        let databaseConfiguration = try configuration.databaseConfiguration()
        try await ServiceChecks.checkRedis(redisConfiguration, logger: logger)
        try await ServiceChecks.checkDatabase(databaseConfiguration, logger: logger)
        // Runs in the service group below (first, so it stops last), or beside the single tick.
        let redis = RedisClient(configuration: redisConfiguration, logger: logger, poolSize: 4)
        let database = Database(configuration: databaseConfiguration, logger: logger)
        let scheduler = Scheduler(
            redis: redis, store: PostgresSchedulerStore(client: database.client, logger: logger),
            configuration: schedulerConfiguration(configuration), replicaID: replicaID(), logger: logger)

        if once {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await redis.run() }
                group.addTask { await database.client.run() }
                defer { group.cancelAll() }
                do {
                    if let report = try await scheduler.runOnce() {
                        print(
                            "enqueued \(report.imports) import(s), \(report.fullResyncs) full resync(s), "
                                + "\(report.refreshes) refresh(es), \(report.replays) parked replay(s); "
                                + "\(report.deduplicated) already pending, \(report.newlyScheduled) new connection(s) scheduled")
                    } else {
                        print("another scheduler replica is the leader: nothing done")
                    }
                } catch {
                    throw CalsyncAppError.failed("the scheduler tick failed: \(error)")
                }
            }
            return
        }

        var services: [any Service] = [redis, database.client]
        if let metrics = ProcessServices.metricsServer(configuration, registry: registry) { services.append(metrics) }
        services.append(scheduler)
        try await ProcessServices.run(services, name: "scheduler", shutdownGrace: .seconds(10), logger: logger)
    }
}
