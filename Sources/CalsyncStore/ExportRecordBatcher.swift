import CalsyncQueue
import Logging
import PostgresNIO

/// Records export results of concurrent jobs in as few statements as it can (a `CoalescingBatcher`):
/// a job alone runs exactly the single-row statement; jobs recording at the same time share one
/// multi-row statement. A failed batch is retried row by row, so one bad row fails only its own job.
final class ExportRecordBatcher: Sendable {
    private let batcher: CoalescingBatcher<RecordExportStatement, Bool>
    /// Most rows in one statement.
    static let maxBatch = 256

    init(client: PostgresClient, logger: Logger) {
        let runner = Runner(client: client, logger: logger)
        self.batcher = CoalescingBatcher(maxBatch: Self.maxBatch) { statements in await runner.run(statements) }
    }

    /// Records one export; true when it was applied (newer than what was recorded).
    func record(_ statement: RecordExportStatement) async throws -> Bool {
        try await batcher.submit(statement)
    }
}

/// Runs a batch of export records.
private struct Runner: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// One statement for the rows (split where an appointment appears twice), or one per row after a failure.
    func run(_ statements: [RecordExportStatement]) async -> [Result<Bool, any Error>] {
        if statements.count == 1 { return [await single(statements[0])] }
        var results = [Result<Bool, any Error>?](repeating: nil, count: statements.count)
        var remaining = Array(statements.indices)
        while !remaining.isEmpty {
            // One row per appointment in a statement: ON CONFLICT cannot touch a row twice.
            var seen = Set<String>()
            var batch: [Int] = []
            var later: [Int] = []
            for index in remaining {
                let key = statements[index].memberID + "\u{0}" + statements[index].appointmentID
                if seen.insert(key).inserted { batch.append(index) } else { later.append(index) }
            }
            do {
                let applied = try await many(batch.map { statements[$0] })
                for index in batch {
                    results[index] = .success(applied.contains(statements[index].memberID + "\u{0}" + statements[index].appointmentID))
                }
            } catch {
                logger.debug("a batch of export records failed; recording them one by one", metadata: ["calsync.error": "\(error)"])
                for index in batch { results[index] = await single(statements[index]) }
            }
            remaining = later
        }
        return results.map { $0! }
    }

    private func single(_ statement: RecordExportStatement) async -> Result<Bool, any Error> {
        do {
            for try await count in try await client.execute(statement, logger: logger) { return .success(count > 0) }
            return .success(false)
        } catch {
            return .failure(error)
        }
    }

    /// The keys (member NUL appointment) of the rows applied.
    private func many(_ statements: [RecordExportStatement]) async throws -> Set<String> {
        var applied = Set<String>()
        for try await (member, appointment) in try await client.execute(RecordExportsStatement(statements), logger: logger) {
            applied.insert(member + "\u{0}" + appointment)
        }
        return applied
    }
}
