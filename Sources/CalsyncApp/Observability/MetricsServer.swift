import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization

/// The process's Prometheus registry, bootstrapped into swift-metrics at most once.
package enum MetricsBootstrap {
    private static let registryOnce = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Bootstraps swift-metrics with a Prometheus factory on first call and returns its registry (later calls: the same one).
    package static func bootstrap() -> PrometheusCollectorRegistry {
        registryOnce.withLock { existing in
            if let existing { return existing }
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            existing = registry
            return registry
        }
    }
}

/// Serves `GET /metrics` (Prometheus text format) from a registry; a `Service`.
package struct MetricsServer: Service {
    private let application: Application<RouterResponder<BasicRequestContext>>

    /// Creates the server on `host:port` (port must not be 0: a process with metrics off adds no server).
    package init(registry: PrometheusCollectorRegistry, host: String, port: Int, logger: Logger) {
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            let body = registry.emitToBuffer()
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
        self.application = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "calsync-metrics"),
            logger: logger)
    }

    /// Runs until graceful shutdown.
    package func run() async throws {
        try await application.run()
    }
}
