import Foundation
import Logging
import PostgresNIO

extension PostgresSchedulerStore {
    /// Google channels opened over `syncTimeoutSeconds` ago that never received a trusted message (not even
    /// the `sync` Google sends at once) are taken as not delivering: they are marked expired (the next
    /// `renew_push` replaces them) and their connections' push falls back to polling (`unavailable`, a detail,
    /// next import due now). Graph subscriptions are exempt: Graph validates the URL when it creates them and
    /// a quiet calendar sends nothing. Returns how many connections fell back.
    package func expireSilentPush(syncTimeoutSeconds: Int) async throws -> Int {
        let detail = "Google opened the watch channel but never delivered to CALSYNC_PUBLIC_URL (no sync message within "
            + "\(syncTimeoutSeconds) s): changes arrive by polling until a new channel delivers."
        let rows = try await client.query(
            """
            WITH silent AS (
                UPDATE push_channels SET expires_at = LEAST(expires_at, now())
                WHERE provider = 'google' AND delivered_at IS NULL AND expires_at > now()
                  AND created_at <= now() - \(syncTimeoutSeconds) * interval '1 second'
                RETURNING connection_id
            ), fallen AS (
                UPDATE calendar_connections SET push_status = 'unavailable', push_detail = \(detail),
                    push_expires_at = NULL, updated_at = now()
                WHERE id IN (SELECT connection_id FROM silent) AND push_status = 'active'
                RETURNING id
            ), due AS (
                UPDATE connection_schedules SET next_import_at = now() WHERE connection_id IN (SELECT id FROM fallen)
            )
            SELECT 1 FROM fallen
            """, logger: logger)
        var count = 0
        for try await _ in rows { count += 1 }
        return count
    }
}
