import ArgumentParser
import CalsyncApp

struct DeadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead",
        abstract: "Inspect, retry and purge dead-lettered jobs.",
        discussion: """
            A dead record holds the job as received (secret fields redacted when it parsed), the reason \
            (invalid_job, forbidden, attempts_exhausted, lease_expired, …), the last error and HTTP status, \
            attempts, and first and last failure times. Needs CALSYNC_REDIS_URL and CALSYNC_REDIS_PREFIX only.

            Examples:
              calsync dead list --type export_appointment --limit 20
              calsync dead show job-7f3c --json
              calsync dead retry --all --type refresh_token
              calsync dead purge --all --older-than 30d
            """,
        subcommands: [List.self, Show.self, Retry.self, Purge.self]
    )

    /// Connects and runs one operation, printing its result.
    static func perform(_ body: (QueueOperations) async throws -> String) async throws {
        try await CommandSupport.run {
            let configuration = try await CommandSupport.configuration(requiring: .redis)
            let logger = CommandSupport.logger(configuration, label: "calsync.dead")
            print(try await QueueOperations.withConnection(configuration: configuration, logger: logger) { try await body($0) })
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List dead jobs, newest first.",
            discussion: """
                Examples:
                  calsync dead list
                  calsync dead list --type import_window --limit 5 --json
                """)

        @Option(name: .long, help: "Only jobs of this type.")
        var type: String?

        @Option(name: .long, help: "At most this many records.")
        var limit: Int = 50

        @Flag(name: .long, help: "Print a JSON array of records.")
        var json = false

        func validate() throws {
            guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        }

        func run() async throws {
            try await DeadCommand.perform { try await $0.deadList(type: type, limit: limit, json: json) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one dead job.",
            discussion: """
                Examples:
                  calsync dead show job-7f3c
                  calsync dead show invalid-12 --json
                """)

        @Argument(help: "The dead record's id (the job id, or invalid-<n> for a job without one).")
        var id: String

        @Flag(name: .long, help: "Print the record as a JSON object.")
        var json = false

        func run() async throws {
            try await DeadCommand.perform { try await $0.deadShow(id: id, json: json) }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put dead jobs back on their ready lists.",
            discussion: """
                The job is pushed again as it was received; a job that never parsed cannot be retried (purge it).

                Examples:
                  calsync dead retry job-7f3c
                  calsync dead retry --all --type export_appointment
                """)

        @Argument(help: "The dead record's id.")
        var id: String?

        @Flag(name: .long, help: "Retry every dead job (of --type, when given).")
        var all = false

        @Option(name: .long, help: "With --all: only jobs of this type.")
        var type: String?

        func validate() throws {
            if all == (id != nil) { throw ValidationError("give either an ID or --all") }
            if type != nil && !all { throw ValidationError("--type goes with --all") }
        }

        func run() async throws {
            try await DeadCommand.perform { operations in
                if let id { return try await operations.deadRetry(id: id) }
                return try await operations.deadRetryAll(type: type)
            }
        }
    }

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete dead jobs for good.",
            discussion: """
                Examples:
                  calsync dead purge invalid-12
                  calsync dead purge --all --older-than 7d
                  calsync dead purge --all
                """)

        @Argument(help: "The dead record's id.")
        var id: String?

        @Flag(name: .long, help: "Purge every dead job (older than --older-than, when given).")
        var all = false

        @Option(name: .long, help: "With --all: only records whose last failure is older than this (30m, 12h, 7d).")
        var olderThan: String?

        func validate() throws {
            if all == (id != nil) { throw ValidationError("give either an ID or --all") }
            if let olderThan {
                guard all else { throw ValidationError("--older-than goes with --all") }
                guard DurationText.parse(olderThan) != nil else {
                    throw ValidationError("--older-than takes a duration such as 30m, 12h or 7d (got '\(olderThan)')")
                }
            }
        }

        func run() async throws {
            try await DeadCommand.perform { operations in
                if let id { return try await operations.deadPurge(id: id) }
                return try await operations.deadPurgeAll(olderThan: olderThan.flatMap(DurationText.parse))
            }
        }
    }
}
