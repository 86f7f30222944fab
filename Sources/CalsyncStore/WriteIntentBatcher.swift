import CalsyncJobs
import CalsyncSync
import Foundation
import Logging
import PostgresNIO

/// Records the write intents of concurrent jobs in as few statements as it can (a `CoalescingBatcher`):
/// a job alone inserts its own row; jobs starting provider writes at the same time share one statement.
/// The intents are independent rows, so a failed batch fails all its jobs (each is retried).
final class WriteIntentBatcher: Sendable {
    private let batcher: CoalescingBatcher<ProviderWriteIntent, Void>
    /// Most rows in one statement.
    static let maxBatch = 256

    init(client: PostgresClient, logger: Logger) {
        self.batcher = CoalescingBatcher(maxBatch: Self.maxBatch) { intents in
            do {
                try await client.execute(BeginWritesStatement(intents), logger: logger)
                return intents.map { _ in .success(()) }
            } catch {
                return intents.map { _ in .failure(error) }
            }
        }
    }

    /// Records one intent (before its provider write goes out).
    func record(_ intent: ProviderWriteIntent) async throws {
        try await batcher.submit(intent)
    }
}

/// Records that provider writes are about to go out (write-ahead): until `settles_at`, a write's outcome
/// is unknown unless its job settles it.
struct BeginWritesStatement: PostgresPreparedStatement {
    static let sql = """
        INSERT INTO export_write_intents (member_id, appointment_id, token, revision, settles_at)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::timestamptz[])
        """
    typealias Row = ()

    let intents: [ProviderWriteIntent]

    init(_ intents: [ProviderWriteIntent]) { self.intents = intents }

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 5)
        bindings.append(intents.map(\.memberID))
        bindings.append(intents.map(\.appointmentID))
        bindings.append(intents.map(\.token))
        bindings.append(intents.map(\.revision))
        bindings.append(intents.map(\.settlesAt))
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { () }
}
