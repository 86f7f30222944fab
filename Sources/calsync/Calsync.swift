// calsync, the executable: the thin command-line front. It owns argument parsing and
// turning a command into a call on CalsyncApp; it holds no sync, queue or SQL logic.
import ArgumentParser

@main
struct Calsync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calsync",
        abstract: "Keeps a booking service's appointments and its staff's own calendars in step.",
        discussion: """
            Producers push jobs to Redis lists; `calsync worker` runs them against Google, Microsoft \
            and CalDAV servers (iCloud, Fastmail, Nextcloud, …) and records the results in PostgreSQL; `calsync scheduler` enqueues the periodic \
            imports and token refreshes. Configuration comes from CALSYNC_* \
            environment variables (see config/calsync.env.example and the README).
            """,
        subcommands: [
            WorkerCommand.self,
            SchedulerCommand.self,
            WebhooksCommand.self,
            MigrateCommand.self,
            QueuesCommand.self,
            DeadCommand.self,
            EnqueueCommand.self,
            KeygenCommand.self,
            RekeyCommand.self,
            ConsoleCommand.self,
            SandboxCommand.self,
        ]
    )
}
