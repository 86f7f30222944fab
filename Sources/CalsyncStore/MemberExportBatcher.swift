import CalsyncJobs
import CalsyncSync
import Foundation
import Logging
import PostgresNIO

/// Reads the member and export state of concurrent export jobs in as few statements as it can (a
/// `CoalescingBatcher`): a job alone reads its own; jobs reading at the same time share one statement.
/// Each job reads only after it holds its appointment's lock, so a shared read sees what a single one would.
/// A failed statement other than a timeout is read again job by job, so one bad row fails only its own job.
final class MemberExportBatcher: Sendable {
    /// One job's question: the member, the appointment and the revision about to be applied.
    struct Query: Sendable {
        var memberID: String
        var appointmentID: String
        var revision: Int64
    }

    /// One job's answer: nil when the member is unknown.
    struct Answer: Sendable {
        var state: (MemberSyncState, ExportFence)?
    }

    private let batcher: CoalescingBatcher<Query, Answer>
    /// Most jobs in one statement.
    static let maxBatch = 256

    init(client: PostgresClient, logger: Logger) {
        self.batcher = CoalescingBatcher(maxBatch: Self.maxBatch) { queries in
            do {
                return try await Self.read(queries, client: client, logger: logger).map { .success($0) }
            } catch let error as StoreError where error.isTimeout {
                return queries.map { _ in .failure(error) }
            } catch where queries.count > 1 {
                var results: [Result<Answer, any Error>] = []
                for query in queries {
                    do {
                        results.append(.success(try await Self.read([query], client: client, logger: logger)[0]))
                    } catch {
                        results.append(.failure(error))
                    }
                }
                return results
            } catch {
                return [.failure(error)]
            }
        }
    }

    /// The member's state and the appointment's export fence (nil when the member is unknown).
    func read(_ query: Query) async throws -> (MemberSyncState, ExportFence)? {
        try await batcher.submit(query).state
    }

    /// One statement for the queries; one answer per query, in order.
    private static func read(_ queries: [Query], client: PostgresClient, logger: Logger) async throws -> [Answer] {
        var rows = [[MemberRow]](repeating: [], count: queries.count)
        var views = [ExportView](repeating: ExportView(state: nil, olderUnsettledUntil: nil, sameRevisionUnsettledUntil: nil), count: queries.count)
        do {
            for try await (index, row, export) in try await client.execute(MemberExportsStatement(queries), logger: logger) {
                guard index >= 1, index <= queries.count else { continue }
                rows[index - 1].append(row)
                views[index - 1] = export
            }
        } catch {
            throw StoreError.translating(error)
        }
        return queries.indices.map { index in
            Answer(state: PostgresSyncStore.memberState(queries[index].memberID, rows[index]).map { ($0, views[index].fence) })
        }
    }
}

/// The member's state and the export state of one appointment, for many jobs in one round trip: a row per
/// connection of each member (the export columns repeated), carrying the 1-based position of its job's query.
struct MemberExportsStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT q.n, \(MemberRow.columns), \(ExportStateStatement.columns(member: "q.member_id", appointment: "q.appointment_id", revision: "q.revision"))
        FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS q(member_id, appointment_id, revision, n)
        JOIN members m ON m.id = q.member_id
        JOIN organizations o ON o.id = m.organization_id
        LEFT JOIN calendar_connections c ON c.member_id = m.id
        LEFT JOIN appointment_exports e ON e.member_id = m.id AND e.appointment_id = q.appointment_id
        ORDER BY q.n, c.created_at
        """
    typealias Row = (index: Int, member: MemberRow, export: ExportView)

    let queries: [MemberExportBatcher.Query]

    init(_ queries: [MemberExportBatcher.Query]) { self.queries = queries }

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(queries.map(\.memberID))
        bindings.append(queries.map(\.appointmentID))
        bindings.append(queries.map(\.revision))
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        let cells = row.makeRandomAccess()
        let index = Int(try cells[0].decode(Int64.self))
        let member = try MemberRow(cells, from: 1)
        return (index, member, try ExportStateStatement.decode(cells, from: 1 + MemberRow.count))
    }
}
