import Logging
import PostgresNIO
import Synchronization

/// Records export results of concurrent jobs in as few statements as it can (group commit): the first
/// caller runs its record at once; callers arriving meanwhile queue up, and the next of them runs all of
/// them in one statement. Nobody waits for a timer, and a caller alone runs exactly the single-row
/// statement. A failed batch is retried row by row, so one bad row fails only its own job.
final class ExportRecordBatcher: Sendable {
    private struct Waiting {
        let statement: RecordExportStatement
        /// Resumed with the row's outcome, or with nil: "lead the next batch".
        let continuation: CheckedContinuation<Bool?, any Error>
    }

    private struct State {
        var pending: [Waiting] = []
        var running = false
    }

    private let state = Mutex(State())
    private let client: PostgresClient
    private let logger: Logger
    /// Most rows in one statement.
    static let maxBatch = 256

    init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Records one export; true when it was applied (newer than what was recorded).
    func record(_ statement: RecordExportStatement) async throws -> Bool {
        let leads = state.withLock { state -> Bool in
            if state.running { return false }
            state.running = true
            return true
        }
        if !leads {
            let outcome: Bool? = try await withCheckedThrowingContinuation { continuation in
                let queued = state.withLock { state -> Bool in
                    if state.running {
                        state.pending.append(Waiting(statement: statement, continuation: continuation))
                        return true
                    }
                    state.running = true
                    return false
                }
                if !queued { continuation.resume(returning: nil) }
            }
            if let outcome { return outcome }
        }
        return try await lead(statement)
    }

    /// Runs `own` with everything queued so far, then hands the lead to the first caller queued meanwhile.
    private func lead(_ own: RecordExportStatement) async throws -> Bool {
        let queued = state.withLock { state -> [Waiting] in
            let taken = Array(state.pending.prefix(Self.maxBatch - 1))
            state.pending.removeFirst(taken.count)
            return taken
        }
        let results = await run([own] + queued.map(\.statement))
        for (waiting, result) in zip(queued, results.dropFirst()) {
            waiting.continuation.resume(with: result.map { Optional($0) })
        }
        let next = state.withLock { state -> Waiting? in
            if state.pending.isEmpty {
                state.running = false
                return nil
            }
            return state.pending.removeFirst()
        }
        next?.continuation.resume(returning: nil)
        return try results[0].get()
    }

    /// One statement for the rows (split where an appointment appears twice), or one per row after a failure.
    private func run(_ statements: [RecordExportStatement]) async -> [Result<Bool, any Error>] {
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
