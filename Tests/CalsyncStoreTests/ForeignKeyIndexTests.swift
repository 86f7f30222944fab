import CalsyncStore
import CalsyncTestSupport
import PostgresNIO
import Testing

/// Deleting a member or a connection costs only its own rows: every foreign key's columns lead an index.
@Suite("Foreign-key indexes")
struct ForeignKeyIndexTests {
    @Test("after migrating, every foreign key's columns lead some index of its table")
    func everyForeignKeyIsIndexed() async throws {
        try await TestDatabase.with { db in
            let rows = try await db.client.query(
                """
                SELECT c.conrelid::regclass::text || ' (' || c.conname || ')'
                FROM pg_constraint c
                WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
                  AND NOT EXISTS (
                      SELECT 1 FROM pg_index i
                      WHERE i.indrelid = c.conrelid AND i.indpred IS NULL
                        AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
                        AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
                ORDER BY 1
                """, logger: db.logger
            ).decode(String.self).collectAll()
            #expect(rows == [], "foreign keys without an index: \(rows)")
            let keys = try await db.client.query(
                "SELECT count(*)::int FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace",
                logger: db.logger
            ).decode(Int.self).collectAll()
            #expect((keys.first ?? 0) >= 8, "the check saw the schema's foreign keys")
        }
    }

    @Test("a connection's exports are found through an index, as deleting the connection does")
    func connectionLookupUsesAnIndex() async throws {
        try await TestDatabase.with { db in
            let plans = try await db.client.withConnection { connection in
                try await connection.query("SET enable_seqscan = off", logger: db.logger)
                var plans: [String] = []
                for statement in [
                    "SELECT * FROM appointment_exports WHERE connection_id = '00000000-0000-0000-0000-000000000001'",
                    // What ON DELETE SET NULL runs for each deleted connection.
                    "UPDATE appointment_exports SET connection_id = NULL WHERE connection_id = '00000000-0000-0000-0000-000000000001'",
                ] {
                    let lines = try await connection.query(PostgresQuery(unsafeSQL: "EXPLAIN " + statement), logger: db.logger)
                        .decode(String.self).collectAll()
                    plans.append(lines.joined(separator: "\n"))
                }
                return plans
            }
            for plan in plans {
                #expect(plan.contains("Index Cond: (connection_id ="), "no index lookup by connection_id:\n\(plan)")
            }
        }
    }
}
