import CalsyncJobs
import Logging
import PostgresNIO

/// Records export results of concurrent jobs in as few statements as it can (a `CoalescingBatcher`):
/// a job alone runs the statement with its own row; jobs recording at the same time share one. A failed
/// statement is retried row by row, so one bad row fails only its own job; a statement that hit a
/// timeout fails all its rows at once (their jobs are retried), so the next batch waits for one timeout at most.
final class ExportRecordBatcher: Sendable {
    private let batcher: CoalescingBatcher<ExportRecord, Bool>
    /// Most rows in one statement.
    static let maxBatch = 256

    init(client: PostgresClient, logger: Logger) {
        let runner = ExportRecordRunner(client: client, logger: logger)
        self.batcher = CoalescingBatcher(maxBatch: Self.maxBatch) { records in await runner.run(records) }
    }

    /// Records one export; true when it was applied (newer than what was recorded).
    func record(_ record: ExportRecord) async throws -> Bool {
        try await batcher.submit(record)
    }
}

/// Runs one batch of export records.
struct ExportRecordRunner: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// One statement for the rows (more where an appointment appears twice: ON CONFLICT cannot touch a
    /// row twice), or, after a failure other than a timeout, one per row. One result per record, in order.
    func run(_ records: [ExportRecord]) async -> [Result<Bool, any Error>] {
        var results = [Result<Bool, any Error>?](repeating: nil, count: records.count)
        var remaining = Array(records.indices)
        while !remaining.isEmpty {
            var seen = Set<String>()
            var batch: [Int] = []
            var later: [Int] = []
            for index in remaining {
                if seen.insert(records[index].key).inserted { batch.append(index) } else { later.append(index) }
            }
            do {
                let applied = try await execute(batch.map { records[$0] })
                for index in batch { results[index] = .success(applied.contains(records[index].key)) }
            } catch let error as StoreError where error.isTimeout {
                // Row by row would wait for the same lock or slow plan once per row: fail them all now.
                logger.debug("a batch of export records hit a timeout", metadata: [LogKey.errorCode: "\(error.code)"])
                for index in batch { results[index] = .failure(error) }
            } catch where batch.count > 1 {
                logger.debug("a batch of export records failed; recording them one by one", metadata: [LogKey.error: "\(error)"])
                for index in batch {
                    do {
                        results[index] = .success(try await execute([records[index]]).contains(records[index].key))
                    } catch {
                        results[index] = .failure(error)
                    }
                }
            } catch {
                results[batch[0]] = .failure(error)
            }
            remaining = later
        }
        return results.map { $0! }
    }

    /// The keys of the rows applied.
    private func execute(_ records: [ExportRecord]) async throws -> Set<String> {
        var applied = Set<String>()
        do {
            for try await (member, appointment) in try await client.execute(RecordExportsStatement(records), logger: logger) {
                applied.insert(member + "\u{0}" + appointment)
            }
        } catch {
            throw StoreError.translating(error)
        }
        return applied
    }
}
