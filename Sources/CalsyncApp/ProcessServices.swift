import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import UnixSignals

/// How every long-running calsync process runs its services: one `ServiceGroup`, clients first and
/// consumers last (shutdown runs in reverse), stopped gracefully by SIGTERM or SIGINT.
enum ProcessServices {
    /// The Prometheus endpoint of this process, unless `CALSYNC_METRICS_PORT` is 0.
    static func metricsServer(_ configuration: CalsyncConfiguration, registry: PrometheusCollectorRegistry?) -> MetricsServer? {
        guard let registry, configuration.metrics.port != 0 else { return nil }
        return MetricsServer(
            registry: registry, host: configuration.metrics.host, port: configuration.metrics.port,
            logger: Logger(label: "calsync.metrics"))
    }

    /// Runs Swift concurrency's global executor on NIO's event loop threads, where PostgreSQL and HTTP I/O
    /// already happen: a job's awaits then resume without a hop between thread pools. Blocking calls stay
    /// off these threads (hiredis runs on its own thread pool). Call once, before the process starts work.
    static func runTasksOnEventLoops() {
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }

    /// Runs `services` until a signal and a graceful shutdown of at most `shutdownGrace`, then 5 s of cancellation.
    static func run(_ services: [any Service], name: String, shutdownGrace: Duration, logger: Logger) async throws {
        var configuration = ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        configuration.maximumGracefulShutdownDuration = shutdownGrace
        configuration.maximumCancellationDuration = .seconds(5)
        do {
            try await ServiceGroup(configuration: configuration).run()
        } catch {
            throw CalsyncAppError.failed("the \(name) stopped: \(error)")
        }
    }
}
