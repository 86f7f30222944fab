import CalsyncJobs
import CalsyncQueue
import CalsyncStore
import Foundation
import PostgresNIO
import Testing

/// A PostgreSQL error reaches dead records, error columns and logs as one safe line.
@Suite("PostgreSQL errors as one line")
struct PostgresErrorTextTests {
    @Test("code, SQLSTATE and the server's message only: no SQL, no bind values, no newline")
    func psqlErrorIsOneSafeLine() async throws {
        try await TestDatabase.with(migrated: false) { db in
            let secret = "tok-\(UUID().uuidString)"
            do {
                try await db.execute("SELECT marker_column FROM no_such_table_here WHERE token = \(secret)")
                Issue.record("the query should have failed")
            } catch {
                #expect(String(reflecting: error).contains("no_such_table_here"), "the debug dump carries the SQL")
                let line = SafeText.describe(error)
                #expect(line.contains("SQLSTATE 42P01"), "\(line)")
                #expect(line.contains("does not exist"))
                #expect(!line.contains(secret))
                #expect(!line.contains("marker_column"))
                #expect(!line.contains("\n"))
            }
        }
    }
}
