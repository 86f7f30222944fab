import ArgumentParser
import CalsyncApp

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply pending PostgreSQL schema migrations.",
        discussion: """
            Idempotent: applies each pending migration in its own transaction, records it in \
            calsync_schema_migrations, and prints what it applied or "up to date". Concurrent runs wait for \
            each other. Needs CALSYNC_DATABASE_URL only (CALSYNC_DATABASE_SCHEMA selects a schema).

            Examples:
              calsync migrate
              CALSYNC_DATABASE_URL=postgres://calsync@db:5432/calsync?sslmode=require calsync migrate
            """
    )

    func run() async throws {
        try await CommandSupport.run {
            let configuration = try await CommandSupport.configuration(requiring: .database)
            let logger = CommandSupport.logger(configuration, label: "calsync.migrate")
            print(try await MigrateOperation.run(configuration: configuration, logger: logger))
        }
    }
}
