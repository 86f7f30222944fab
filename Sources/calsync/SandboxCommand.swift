import ArgumentParser
import CalsyncSandbox
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// `calsync sandbox`: serves the emulated Google Calendar, Microsoft Graph and token endpoints.
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Runs the provider sandbox: emulated Google Calendar v3, Microsoft Graph and their OAuth endpoints.",
        discussion: """
            Prints `export CALSYNC_…=` lines for the base URLs and client credentials once it listens, \
            so `eval "$(calsync sandbox … | head -6)"` or sourcing a saved copy points calsync at it. \
            Runs until SIGINT or SIGTERM. The control API is documented in docs/sandbox.md.
            """
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0 picks a free one).")
    var port = 8090

    @Flag(help: "Create the Google account demo@sandbox.test with a few busy events and print an authorization code.")
    var seedDemo = false

    @Option(help: "Lifetime of issued access tokens in seconds (default 3600).")
    var accessTokenLifetime: Int?

    func validate() throws {
        if let accessTokenLifetime, accessTokenLifetime < 1 {
            throw ValidationError("--access-token-lifetime must be at least 1 second")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
    }

    func run() async throws {
        var configuration = SandboxConfiguration()
        if let accessTokenLifetime { configuration.accessTokenLifetime = .seconds(accessTokenLifetime) }
        var logger = Logger(label: "calsync.sandbox")
        logger.logLevel = .info
        let sandbox = Sandbox(configuration: configuration, logger: logger)
        let demoCode = seedDemo ? Self.seed(sandbox) : nil
        let host = self.host
        let credentials = configuration
        let server = SandboxServer(sandbox: sandbox, host: host, port: port, logger: logger) { boundPort in
            let endpoints = SandboxEndpoints(baseURL: "http://\(host):\(boundPort)")
            var lines = [
                "export CALSYNC_GOOGLE_API_URL=\(endpoints.googleAPI)",
                "export CALSYNC_GOOGLE_TOKEN_URL=\(endpoints.googleToken)",
                "export CALSYNC_MICROSOFT_GRAPH_URL=\(endpoints.graph)",
                "export CALSYNC_MICROSOFT_TOKEN_URL=\(endpoints.microsoftToken)",
                "export CALSYNC_GOOGLE_CLIENT_ID=\(credentials.googleClientID)",
                "export CALSYNC_GOOGLE_CLIENT_SECRET=\(credentials.googleClientSecret)",
                "export CALSYNC_MICROSOFT_CLIENT_ID=\(credentials.microsoftClientID)",
                "export CALSYNC_MICROSOFT_CLIENT_SECRET=\(credentials.microsoftClientSecret)",
                "# control API: \(endpoints.control) (see docs/sandbox.md)",
            ]
            if let demoCode {
                lines.append("# demo account demo@sandbox.test (google); authorization code for redirect_uri \(Self.demoRedirect):")
                lines.append("# \(demoCode)")
            }
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
        let group = ServiceGroup(
            configuration: .init(services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    static let demoRedirect = "http://127.0.0.1:8080/oauth/google/callback"

    /// Seeds the demo account and returns an authorization code for it.
    static func seed(_ sandbox: Sandbox) -> String {
        let email = "demo@sandbox.test"
        let account = sandbox.createAccount(.google, email: email, timeZone: "UTC")
        let dayStart = (Date().timeIntervalSince1970 / 86400).rounded(.down) * 86400
        for (day, hour, length, title) in [(1, 9, 1, "Team sync"), (1, 13, 2, "Focus block"), (2, 10, 1, "Dentist"), (3, 15, 1, "1:1")] {
            let start = Date(timeIntervalSince1970: dayStart + Double(day * 86400 + hour * 3600))
            let event = SandboxEvent(summary: title, start: start, end: start.addingTimeInterval(Double(length * 3600)))
            sandbox.insertEvent(.google, email: email, calendarID: account.primaryCalendarID, event)
        }
        return sandbox.issueAuthorizationCode(.google, email: email, redirectURI: demoRedirect)
    }
}
