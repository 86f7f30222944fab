import CalsyncJobs
import Logging
import PostgresNIO

/// What one `migrate` run did.
package struct MigrationReport: Sendable, Equatable {
    /// Versions and names applied by this run, in order (empty: the schema was up to date).
    package var applied: [AppliedMigration]
    /// The highest version in the database after the run.
    package var currentVersion: Int

    /// One applied migration.
    package struct AppliedMigration: Sendable, Equatable {
        /// Its version number.
        package var version: Int
        /// Its name.
        package var name: String
    }
}

/// Applies `Migrations.all` idempotently: each pending migration in its own transaction, runs serialized by an
/// advisory lock, with the longer limits of `DatabaseConfiguration.Timeouts.migration`.
package struct Migrator: Sendable {
    /// Where to migrate (one direct connection is opened per run; no pool needed).
    package let configuration: DatabaseConfiguration
    /// The schema migrated (nil: the connection's default `search_path`).
    package let schema: String?
    /// The migrations to apply (default: all of calsync's).
    package let migrations: [Migration]
    private let logger: Logger

    /// Lock class of calsync's migration advisory lock (the second key is the schema's hash).
    static let lockClass: Int32 = 4_207_113

    /// Creates a migrator for `configuration` (its schema is created when missing).
    package init(configuration: DatabaseConfiguration, logger: Logger, migrations: [Migration] = Migrations.all) {
        self.configuration = configuration
        self.schema = configuration.schema
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    /// Creates a migrator for `database` (its configured schema is created when missing).
    package init(database: Database, logger: Logger, migrations: [Migration] = Migrations.all) {
        self.configuration = database.configuration
        self.schema = database.configuration.schema
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.logger = logger
    }

    /// Applies every pending migration and returns what it did; a concurrent run waits for this one and then finds nothing to do.
    package func migrate() async throws -> MigrationReport {
        let lockName = schema ?? "public"
        let logger = self.logger
        let migrations = self.migrations
        let schema = self.schema
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                configuration: try configuration.connectionConfiguration(timeouts: .migration), id: 1, logger: logger)
        } catch {
            throw StoreError.unreachable(
                "cannot connect to PostgreSQL at \(configuration.redactedURL) (\(Database.describe(error))): "
                    + Database.howToFix)
        }
        let outcome: Result<MigrationReport, any Error>
        do {
            try await connection.query(
                "SELECT pg_advisory_lock(\(Self.lockClass), hashtext(\(lockName)))", logger: logger)
            do {
                outcome = .success(
                    try await Self.migrateLocked(
                        connection: connection, schema: schema, migrations: migrations, logger: logger))
            } catch {
                outcome = .failure(error)
            }
            // Closing the session would release the lock too; unlocking keeps the connection reusable.
            _ = try? await connection.query(
                "SELECT pg_advisory_unlock(\(Self.lockClass), hashtext(\(lockName)))", logger: logger)
        } catch {
            outcome = .failure(error)
        }
        try? await connection.close()
        switch outcome {
        case .success(let report):
            return report
        case .failure(let error as StoreError):
            throw error
        case .failure(let error):
            throw StoreError.migrationFailed("migration failed: \(Database.describe(error))")
        }
    }

    private static func migrateLocked(
        connection: PostgresConnection, schema: String?, migrations: [Migration], logger: Logger
    ) async throws -> MigrationReport {
        if let schema {
            try await connection.query(
                PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(try quoteIdentifier(schema))"), logger: logger)
        }
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS calsync_schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
        var applied: [Int: (name: String, checksum: String)] = [:]
        let rows = try await connection.query(
            "SELECT version, name, checksum FROM calsync_schema_migrations ORDER BY version", logger: logger)
        for try await (version, name, checksum) in rows.decode((Int, String, String).self) {
            applied[version] = (name, checksum)
        }
        for migration in migrations {
            guard let recorded = applied[migration.version] else { continue }
            if recorded.checksum != migration.checksum {
                throw StoreError.migrationChanged(
                    "migration \(migration.version) (\(migration.name)) differs from the one applied to this database "
                        + "(checksum \(recorded.checksum), now \(migration.checksum)): never edit an applied migration; add a new one")
            }
        }
        var report = MigrationReport(applied: [], currentVersion: applied.keys.max() ?? 0)
        for migration in migrations where applied[migration.version] == nil {
            logger.info(
                "applying migration",
                metadata: [LogKey.migrationVersion: "\(migration.version)", LogKey.migrationName: "\(migration.name)"])
            do {
                try await connection.withTransaction(logger: logger) { connection in
                    for statement in migration.statements {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    let version = migration.version
                    let name = migration.name
                    let checksum = migration.checksum
                    try await connection.query(
                        "INSERT INTO calsync_schema_migrations (version, name, checksum) VALUES (\(version), \(name), \(checksum))",
                        logger: logger)
                }
            } catch {
                throw StoreError.migrationFailed(
                    "migration \(migration.version) (\(migration.name)) failed and was rolled back: \(Database.describe(error))")
            }
            report.applied.append(.init(version: migration.version, name: migration.name))
            report.currentVersion = max(report.currentVersion, migration.version)
        }
        return report
    }

    /// Quotes a schema name for SQL; refuses names with characters that have no business in one.
    static func quoteIdentifier(_ name: String) throws -> String {
        guard !name.isEmpty, name.utf8.count <= 63,
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") })
        else {
            throw StoreError.migrationFailed(
                "schema name '\(name)' is not allowed: use up to 63 ASCII letters, digits, '_' or '-'")
        }
        return "\"\(name)\""
    }
}
