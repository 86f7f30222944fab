import CalsyncSync
import Foundation
import Logging
import PostgresNIO

extension PostgresSchedulerStore {
    /// A connection whose push channels need work (`renew_push`).
    package struct DuePushWork: Sendable, Hashable {
        package var memberID: String
        package var provider: String
    }

    /// Connections whose channels are due for work, marked as tried now (so the next tick skips them):
    /// active, importing Google and Microsoft connections of eligible organizations that were never tried,
    /// whose channels expire within `renewBeforeSeconds`, or whose push failed over `retryAfterSeconds` ago.
    package func claimDuePushWork(renewBeforeSeconds: Int, retryAfterSeconds: Int, limit: Int) async throws -> [DuePushWork] {
        let rows = try await client.query(
            """
            WITH due AS (
                SELECT c.id FROM calendar_connections c
                JOIN members m ON m.id = c.member_id
                JOIN organizations o ON o.id = m.organization_id
                WHERE c.status = 'active' AND c.sync_direction IN ('both', 'inbound') AND c.provider IN ('google', 'microsoft')
                  AND calsync_organization_eligible(o.external_calendar_sync_enabled, o.plan)
                  AND (c.push_checked_at IS NULL
                       OR (c.push_status = 'active' AND c.push_expires_at <= now() + \(renewBeforeSeconds) * interval '1 second'
                           AND c.push_checked_at <= now() - interval '10 seconds')
                       OR (c.push_status <> 'active' AND c.push_checked_at <= now() - \(retryAfterSeconds) * interval '1 second'))
                LIMIT \(limit)
                FOR UPDATE OF c SKIP LOCKED
            )
            UPDATE calendar_connections c SET push_checked_at = now()
            FROM due WHERE c.id = due.id
            RETURNING c.member_id, c.provider
            """, logger: logger)
        var due: [DuePushWork] = []
        for try await (memberID, provider) in rows.decode((String, String).self) {
            due.append(DuePushWork(memberID: memberID, provider: provider))
        }
        return due
    }

    /// Connections whose push was active but whose channels expired unrenewed fall back to polling at once:
    /// `push_status` `unavailable` with a detail, and their next import due now. Returns how many.
    package func expireLapsedPush() async throws -> Int {
        let rows = try await client.query(
            """
            WITH lapsed AS (
                UPDATE calendar_connections SET push_status = 'unavailable',
                    push_detail = 'The push channel expired before it was renewed; changes arrive by polling until it is open again.',
                    updated_at = now()
                WHERE push_status = 'active' AND push_expires_at <= now()
                RETURNING id
            ), due AS (
                UPDATE connection_schedules SET next_import_at = now() WHERE connection_id IN (SELECT id FROM lapsed)
            )
            SELECT 1 FROM lapsed
            """, logger: logger)
        var count = 0
        for try await _ in rows { count += 1 }
        return count
    }
}
