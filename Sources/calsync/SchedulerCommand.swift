import ArgumentParser
import CalsyncApp

struct SchedulerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduler",
        abstract: "Enqueue imports, token refreshes, parked replays and daily full resyncs on time.",
        discussion: """
            A long-running process. Every CALSYNC_SCHEDULER_TICK_SECONDS (15) the leader enqueues \
            import_window for each active connection of an eligible organization whose next_import_at \
            has passed (every CALSYNC_IMPORT_INTERVAL_SECONDS, 300, or the connection's \
            import_interval_seconds, with jitter), once a day (CALSYNC_FULL_RESYNC_HOURS) a full resync \
            in its place, refresh_token for tokens expiring within CALSYNC_REFRESH_MARGIN_SECONDS (600), \
            and replays of parked exports whose connection is active and organization eligible again. \
            An import or refresh still queued or running is not enqueued twice.

            Run as many replicas as you like: they elect a leader with a Redis lock \
            (<prefix>:scheduler:leader, CALSYNC_SCHEDULER_LEADER_TTL_SECONDS, 10); when the leader dies \
            another takes over within that TTL, and on SIGTERM the leader releases the lock at once. \
            Needs CALSYNC_REDIS_URL and CALSYNC_DATABASE_URL (migrated with `calsync migrate`).

            Examples:
              calsync scheduler
              calsync scheduler --once      # one tick now (if no other replica leads), then exit
            """
    )

    @Flag(name: .long, help: "Run one tick now if no other replica leads, print what was enqueued, and exit.")
    var once = false

    func run() async throws {
        try await CommandSupport.run {
            let configuration = try await CommandSupport.configuration(requiring: [.redis, .database])
            try await SchedulerAssembly.run(configuration: configuration, once: once)
        }
    }
}
