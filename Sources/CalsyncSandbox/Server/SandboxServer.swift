import Foundation
import HTTPTypes
import Hummingbird
import Logging
import ServiceLifecycle

/// The HTTP server of a sandbox: every emulated service and the control API on one port.
package struct SandboxServer: Service {
    let sandbox: Sandbox
    let host: String
    let port: Int
    let logger: Logger
    let onRunning: (@Sendable (Int) async -> Void)?

    /// Creates the server; `port` 0 picks an ephemeral port.
    package init(sandbox: Sandbox, host: String = "127.0.0.1", port: Int, logger: Logger) {
        self.init(sandbox: sandbox, host: host, port: port, logger: logger, onRunning: nil)
    }

    /// Creates the server and calls `onRunning` with the bound port once it listens.
    package init(
        sandbox: Sandbox, host: String = "127.0.0.1", port: Int, logger: Logger,
        onRunning: (@Sendable (Int) async -> Void)?
    ) {
        self.sandbox = sandbox
        self.host = host
        self.port = port
        self.logger = logger
        self.onRunning = onRunning
    }

    /// Serves until cancelled or gracefully shut down.
    package func run() async throws {
        let onRunning = self.onRunning
        let app = Application(
            router: Sandbox.router(sandbox),
            configuration: .init(address: .hostname(host, port: port), serverName: nil, backlog: 1024),
            onServerRunning: { channel in
                await onRunning?(channel.localAddress?.port ?? 0)
            },
            logger: logger)
        // Push notifications are delivered for as long as the server runs.
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.sandbox.runPushDelivery() }
            defer { group.cancelAll() }
            try await app.run()
        }
    }
}

/// Starts the sandbox on an ephemeral loopback port for a test, runs `body`, stops it.
package func withSandboxServer<T: Sendable>(
    _ sandbox: Sandbox, _ body: (SandboxEndpoints) async throws -> T
) async throws -> T {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    var logger = Logger(label: "calsync.sandbox.test")
    logger.logLevel = .warning
    let server = SandboxServer(sandbox: sandbox, host: "127.0.0.1", port: 0, logger: logger) { port in
        continuation.yield(port)
        continuation.finish()
    }
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            defer { continuation.finish() }
            try await server.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            try await group.next()
            throw SandboxServerError(code: "sandbox.start_failed", message: "The sandbox server stopped before it listened.")
        }
        let endpoints = SandboxEndpoints(baseURL: "http://127.0.0.1:\(port)")
        do {
            let result = try await body(endpoints)
            group.cancelAll()
            return result
        } catch {
            group.cancelAll()
            throw error
        }
    }
}

/// An error starting the sandbox server.
package struct SandboxServerError: Error, CustomStringConvertible {
    /// Stable code, safe as a metric label.
    package let code: String
    /// What happened and what to do.
    package let message: String
    /// `code: message`.
    package var description: String { "\(code): \(message)" }
}
