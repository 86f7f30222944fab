import CalsyncStore
import CalsyncTestSupport
import PostgresNIO
import Testing

@Suite("Migrations")
struct MigrationTests {
    @Test("migrate twice: the second run applies nothing and the catalog is unchanged")
    func idempotent() async throws {
        try await TestDatabase.with(migrated: false) { db in
            let migrator = Migrator(database: db.database, logger: db.logger)
            let first = try await migrator.migrate()
            #expect(first.applied.map(\.version) == Migrations.all.map(\.version))
            let before = try await Catalog.snapshot(db)
            let second = try await migrator.migrate()
            #expect(second.applied.isEmpty)
            #expect(second.currentVersion == Migrations.all.last?.version)
            let after = try await Catalog.snapshot(db)
            #expect(before == after)
            #expect(before.tables.contains("calendar_connections"))
            #expect(before.views == ["member_busy_intervals"])
        }
    }

    @Test("concurrent runs are serialized: each migration is applied exactly once")
    func concurrent() async throws {
        try await TestDatabase.with(migrated: false) { db in
            let reports = try await withThrowingTaskGroup(of: MigrationReport.self) { group in
                for _ in 0..<3 {
                    group.addTask { try await Migrator(database: db.database, logger: db.logger).migrate() }
                }
                var all: [MigrationReport] = []
                for try await report in group { all.append(report) }
                return all
            }
            let appliedVersions = reports.flatMap { $0.applied.map(\.version) }.sorted()
            #expect(appliedVersions == Migrations.all.map(\.version))
            let count = try await db.client.query("SELECT count(*)::int FROM calsync_schema_migrations")
                .decode(Int.self).collectAll()
            #expect(count == [Migrations.all.count])
        }
    }

    @Test("an edited applied migration is refused with migration_changed")
    func editedMigration() async throws {
        try await TestDatabase.with(migrated: true) { db in
            var edited = Migrations.all
            edited[0].statements.append("SELECT 1")
            await #expect {
                _ = try await Migrator(database: db.database, logger: db.logger, migrations: edited).migrate()
            } throws: { error in
                (error as? StoreError)?.code == .migrationChanged
            }
        }
    }

    @Test("a failing migration is rolled back and not recorded")
    func failingMigration() async throws {
        try await TestDatabase.with(migrated: true) { db in
            let broken = Migration(
                version: 9_999, name: "broken",
                statements: ["CREATE TABLE half_done (id int)", "SELECT * FROM no_such_table"])
            await #expect {
                _ = try await Migrator(
                    database: db.database, logger: db.logger, migrations: Migrations.all + [broken]
                ).migrate()
            } throws: { error in
                (error as? StoreError)?.code == .migrationFailed
            }
            let tables = try await Catalog.snapshot(db).tables
            #expect(!tables.contains("half_done"))
            let versions = try await db.client.query("SELECT version FROM calsync_schema_migrations ORDER BY version")
                .decode(Int.self).collectAll()
            #expect(versions == Migrations.all.map(\.version))
        }
    }
}

/// What the catalog says about one schema, for comparing before and after.
struct Catalog: Equatable {
    var tables: [String]
    var views: [String]
    var columns: [String]
    var indexes: [String]
    var constraints: [String]
    var migrations: [String]

    static func snapshot(_ db: TestDatabase) async throws -> Catalog {
        let schema = db.schema
        let client = db.client
        func strings(_ query: PostgresQuery) async throws -> [String] {
            try await client.query(query).decode(String.self).collectAll()
        }
        return Catalog(
            tables: try await strings(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = \(schema) AND table_type = 'BASE TABLE' ORDER BY 1"
            ),
            views: try await strings(
                "SELECT table_name::text FROM information_schema.views WHERE table_schema = \(schema) ORDER BY 1"),
            columns: try await strings(
                """
                SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || coalesce(column_default, '')
                FROM information_schema.columns WHERE table_schema = \(schema) ORDER BY 1
                """),
            indexes: try await strings(
                "SELECT indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = \(schema) ORDER BY 1"),
            constraints: try await strings(
                """
                SELECT c.conname || ' ' || pg_get_constraintdef(c.oid)
                FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
                WHERE n.nspname = \(schema) ORDER BY 1
                """),
            migrations: try await strings(
                "SELECT version || ' ' || name || ' ' || checksum || ' ' || applied_at::text FROM calsync_schema_migrations ORDER BY version"
            )
        )
    }
}
