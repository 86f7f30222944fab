import CalsyncConsole
import CalsyncQueue
import CalsyncRedis
import CalsyncStore
import Logging
import ServiceLifecycle

/// Builds and runs `calsync console`: Redis, PostgreSQL and the console's HTTP server in one `ServiceGroup`.
package enum ConsoleAssembly {
    /// Runs the console until SIGTERM/SIGINT; throws `CalsyncAppError` at start-up (no password hash: exit 78).
    package static func run(configuration: CalsyncConfiguration) async throws {
        ProcessServices.runTasksOnEventLoops()
        Observability.bootstrapLogging(configuration.logging)
        let logger = Logger(label: "calsync.console")
        do {
            _ = try Console.passwordHash(configuration.console)
        } catch let error as ConsoleError {
            throw CalsyncAppError(code: .config, message: error.message, exitCode: 78)
        }
        let redisConfiguration = configuration.redis
        var databaseConfiguration = configuration.database
        databaseConfiguration.maximumConnections = min(databaseConfiguration.maximumConnections, 4)
        try await ServiceChecks.checkRedis(redisConfiguration, logger: logger)
        try await ServiceChecks.checkDatabase(databaseConfiguration, logger: logger)

        let redis = RedisClient(configuration: redisConfiguration, logger: logger, poolSize: 8)
        let database = Database(configuration: databaseConfiguration, logger: logger)
        let queue = JobQueue(redis: redis, configuration: configuration.queue, logger: logger)
        let console: Console
        do {
            console = try Console(
                configuration: configuration.console, queue: queue,
                connections: ConnectionsReader(client: database.client, logger: logger),
                jobTypes: CalsyncConfiguration.contractJobTypes, logger: logger)
        } catch let error as ConsoleError {
            throw CalsyncAppError(code: .config, message: error.message, exitCode: 78)
        }
        let host = configuration.console.host
        let application = console.makeApplication { port in
            logger.info("console listening", metadata: ["url": "http://\(host):\(port)/"])
        }
        try await ProcessServices.run([redis, database.client, application], name: "console", shutdownGrace: .seconds(10), logger: logger)
    }
}
