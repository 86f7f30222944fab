import CalsyncSync
import Hummingbird
import Logging
import ServiceLifecycle

/// The HTTP server of `calsync webhooks` (a `Service`); list the ``WebhookReceiver`` before it.
package struct WebhooksServer: Service {
    let receiver: WebhookReceiver
    let configuration: PushConfiguration
    let logger: Logger
    let onRunning: (@Sendable (Int) async -> Void)?

    /// Creates the server on `configuration.webhookHost:webhookPort` (port 0: an ephemeral one, reported to `onRunning`).
    package init(
        receiver: WebhookReceiver, configuration: PushConfiguration, logger: Logger,
        onRunning: (@Sendable (Int) async -> Void)? = nil
    ) {
        self.receiver = receiver
        self.configuration = configuration
        self.logger = logger
        self.onRunning = onRunning
    }

    /// Serves until shutdown.
    package func run() async throws {
        let onRunning = self.onRunning
        let app = Application(
            router: WebhookRoutes.router(receiver: receiver, maxBodyBytes: configuration.maxBodyBytes),
            configuration: .init(
                address: .hostname(configuration.webhookHost, port: configuration.webhookPort), serverName: nil, backlog: 1024),
            onServerRunning: { channel in await onRunning?(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await app.run()
    }
}
