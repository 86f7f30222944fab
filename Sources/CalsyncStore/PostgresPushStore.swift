import CalsyncSync
import Foundation
import Logging
import PostgresNIO

/// `PushChannelStore` on PostgreSQL: `push_channels` and the `push_*` columns of `calendar_connections`.
package struct PostgresPushStore: PushChannelStore {
    let client: PostgresClient
    let logger: Logger

    /// Creates a store over a running client.
    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The columns of a channel, in `decode` order.
    private static let columns = """
        channel_id, connection_id::text, member_id, provider, resource_id, calendar_id, secret_hash, expires_at, delivered_at
        """

    private typealias Row = (String, String, String, String, String?, String?, String, Date, Date?)

    private static func record(_ row: Row) -> PushChannelRecord? {
        guard let provider = ProviderKind(rawValue: row.3) else { return nil }
        return PushChannelRecord(
            channelID: row.0, connectionID: row.1, memberID: row.2, provider: provider, resourceID: row.4,
            calendarID: row.5, secretHash: row.6, expiresAt: row.7, deliveredAt: row.8)
    }

    /// A channel that is known and not yet expired (an expired one is stale: its notifications change nothing).
    package func pushChannel(id: String) async throws -> PushChannelRecord? {
        let rows = try await client.query(
            "SELECT \(unescaped: Self.columns) FROM push_channels WHERE channel_id = \(id) AND expires_at > now()",
            logger: logger)
        for try await row in rows.decode(Row.self) { return Self.record(row) }
        return nil
    }

    /// One `= ANY` read for a batch; expired channels are left out as in ``pushChannel(id:)``.
    package func pushChannels(ids: [String]) async throws -> [String: PushChannelRecord] {
        guard !ids.isEmpty else { return [:] }
        let rows = try await client.query(
            "SELECT \(unescaped: Self.columns) FROM push_channels WHERE channel_id = ANY(\(ids)) AND expires_at > now()",
            logger: logger)
        var found: [String: PushChannelRecord] = [:]
        for try await row in rows.decode(Row.self) { if let record = Self.record(row) { found[record.channelID] = record } }
        return found
    }

    package func pushChannels(connectionID: String) async throws -> [PushChannelRecord] {
        let rows = try await client.query(
            """
            SELECT \(unescaped: Self.columns) FROM push_channels WHERE connection_id = \(connectionID)::uuid
            ORDER BY created_at
            """, logger: logger)
        var channels: [PushChannelRecord] = []
        for try await row in rows.decode(Row.self) { if let record = Self.record(row) { channels.append(record) } }
        return channels
    }

    /// Writes only while the connection is `active` (a disconnect meanwhile leaves no trusted channel behind).
    @discardableResult
    package func savePushChannel(_ channel: PushChannelRecord) async throws -> Bool {
        let rows = try await client.query(
            """
            INSERT INTO push_channels (channel_id, connection_id, member_id, provider, resource_id, calendar_id, secret_hash, expires_at)
            SELECT \(channel.channelID), c.id, \(channel.memberID), \(channel.provider.rawValue),
                   \(channel.resourceID), \(channel.calendarID), \(channel.secretHash), \(channel.expiresAt)
            FROM calendar_connections c WHERE c.id = \(channel.connectionID)::uuid AND c.status = 'active'
            ON CONFLICT (channel_id) DO UPDATE SET resource_id = EXCLUDED.resource_id, secret_hash = EXCLUDED.secret_hash,
                expires_at = EXCLUDED.expires_at
            RETURNING 1
            """, logger: logger)
        var written = false
        for try await _ in rows { written = true }
        return written
    }

    package func markPushDelivered(channelID: String) async throws {
        try await client.query(
            "UPDATE push_channels SET delivered_at = now() WHERE channel_id = \(channelID) AND delivered_at IS NULL",
            logger: logger)
    }

    package func deletePushChannel(id: String) async throws {
        try await client.query("DELETE FROM push_channels WHERE channel_id = \(id)", logger: logger)
    }

    package func setPushState(connectionID: String, status: PushStatus, detail: String?, expiresAt: Date?) async throws {
        try await client.query(
            """
            WITH before AS (
                SELECT id, push_status FROM calendar_connections
                WHERE id = \(connectionID)::uuid AND status <> 'disconnected'
                FOR UPDATE
            ), changed AS (
                UPDATE calendar_connections c SET push_status = \(status.rawValue), push_detail = \(detail),
                    push_expires_at = \(expiresAt), push_checked_at = now(), updated_at = now()
                FROM before WHERE c.id = before.id
                RETURNING c.id, before.push_status = 'active' AND c.push_status <> 'active' AS leaving
            )
            -- Leaving working push: the next import is due now, then the normal interval applies.
            UPDATE connection_schedules SET next_import_at = now()
            WHERE connection_id IN (SELECT id FROM changed WHERE leaving)
            """, logger: logger)
    }
}
