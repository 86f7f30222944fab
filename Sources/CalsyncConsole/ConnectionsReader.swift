import Foundation
import Logging
import PostgresNIO
import Synchronization

/// One calendar connection as the console shows it: status and sync state, never a credential.
package struct ConnectionView: Sendable, Equatable {
    /// Every column read, as text (NULL: absent): id, member_id, provider, account_email, status, …
    package var columns: [String: String]
    /// The push columns found on this database (`push_*`), in name order; empty when there are none.
    package var push: [(name: String, value: String)]

    /// Column `name`, or nil.
    package subscript(_ name: String) -> String? { columns[name] }

    /// Equal columns and equal push columns, in order.
    package static func == (a: ConnectionView, b: ConnectionView) -> Bool {
        a.columns == b.columns && a.push.map(\.name) == b.push.map(\.name) && a.push.map(\.value) == b.push.map(\.value)
    }
}

/// Reads `calendar_connections` for the console. The columns are named one by one (the sealed credentials
/// are never selected); push columns (`push_*`, added by the push-notification work) are read when the
/// database has them, so the console runs before and after that migration.
package final class ConnectionsReader: Sendable {
    private let client: PostgresClient
    private let logger: Logger
    private let pushColumns = Mutex<[String]?>(nil)

    /// The columns every connection shows, cast to text.
    static let baseColumns = [
        "id", "member_id", "provider", "account_email", "status", "status_detail", "sync_direction",
        "last_inbound_sync_at", "last_inbound_error", "last_outbound_sync_at", "last_outbound_error",
        "rate_limited_until", "access_token_expires_at", "updated_at",
    ]

    /// Creates a reader over a running client.
    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The `push_*` columns of `calendar_connections` in the current schema (looked up once).
    func discoverPushColumns() async throws -> [String] {
        if let known = pushColumns.withLock({ $0 }) { return known }
        let rows = try await client.query(
            """
            SELECT column_name FROM information_schema.columns
            WHERE table_schema = current_schema() AND table_name = 'calendar_connections' AND column_name LIKE 'push%'
            ORDER BY column_name
            """, logger: logger)
        var names: [String] = []
        for try await name in rows.decode(String.self) where name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
            names.append(name)
        }
        pushColumns.withLock { $0 = names }
        return names
    }

    private func selectList(_ push: [String]) -> String {
        (Self.baseColumns + push).map { "c.\"\($0)\"::text AS \"\($0)\"" }.joined(separator: ", ")
    }

    private func decode(_ row: PostgresRow, push: [String]) throws -> ConnectionView {
        let access = row.makeRandomAccess()
        var columns: [String: String] = [:]
        for name in Self.baseColumns {
            if let value = try access[name].decode(String?.self) { columns[name] = value }
        }
        var pushValues: [(String, String)] = []
        for name in push {
            pushValues.append((name, try access[name].decode(String?.self) ?? "—"))
        }
        return ConnectionView(columns: columns, push: pushValues)
    }

    /// Connections whose member id is `search` or whose account email contains it (all when empty), of one
    /// `status` (all when empty); those in trouble first, then the most recently changed; at most `limit`.
    package func search(_ search: String, status: String, limit: Int = 100) async throws -> [ConnectionView] {
        let push = try await discoverPushColumns()
        var binds = PostgresBindings(capacity: 4)
        let escaped = search.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
        binds.append(search)
        binds.append("%" + escaped + "%")
        binds.append(status)
        binds.append(limit)
        let sql = """
            SELECT \(selectList(push)) FROM calendar_connections c
            WHERE ($1 = '' OR c.member_id = $1 OR c.account_email ILIKE $2)
              AND ($3 = '' OR c.status = $3)
            ORDER BY (c.status = 'active' AND c.rate_limited_until IS NULL AND c.last_inbound_error IS NULL
                      AND c.last_outbound_error IS NULL), c.updated_at DESC, c.id
            LIMIT $4
            """
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        var result: [ConnectionView] = []
        for try await row in rows { result.append(try decode(row, push: push)) }
        return result
    }

    /// One connection by id, or nil (also for a malformed id).
    package func find(id: String) async throws -> ConnectionView? {
        guard id.count == 36, id.allSatisfy({ $0.isHexDigit || $0 == "-" }) else { return nil }
        let push = try await discoverPushColumns()
        var binds = PostgresBindings(capacity: 1)
        binds.append(id)
        let sql = "SELECT \(selectList(push)) FROM calendar_connections c WHERE c.id = $1::uuid"
        let rows = try await client.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger)
        for try await row in rows { return try decode(row, push: push) }
        return nil
    }
}
