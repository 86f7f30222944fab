import ArgumentParser
import CalsyncApp

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run jobs from the Redis queues until SIGTERM or SIGINT.",
        discussion: """
            Claims jobs with leases, runs them with retries and backoff, and dead-letters what cannot succeed. \
            Needs CALSYNC_REDIS_URL, CALSYNC_DATABASE_URL and CALSYNC_ENCRYPTION_KEY (generate one with \
            `calsync keygen`). On SIGTERM it stops claiming, lets in-flight jobs finish for \
            CALSYNC_SHUTDOWN_GRACE_SECONDS, hands back the rest and exits 0. Metrics are served on \
            CALSYNC_METRICS_PORT (0 = off).

            Examples:
              CALSYNC_ENCRYPTION_KEY=$(calsync keygen) calsync worker
              CALSYNC_CONFIG_FILE=config/calsync.env CALSYNC_METRICS_PORT=9465 calsync worker
            """
    )

    @Flag(name: .long, help: .hidden)
    var diagnosticJobs = false

    func run() async throws {
        try await CommandSupport.run {
            let configuration = try await CommandSupport.configuration(requiring: .worker)
            try await WorkerAssembly.run(configuration: configuration, diagnosticJobs: diagnosticJobs)
        }
    }
}
