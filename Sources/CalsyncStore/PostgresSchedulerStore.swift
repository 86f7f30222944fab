import CalsyncSync
import Foundation
import Logging
import PostgresNIO

/// What the scheduler asks PostgreSQL: due imports (claimed and rescheduled in one statement per
/// batch), tokens close to expiry, and parked changes ready to replay. Every value is a bind parameter.
package struct PostgresSchedulerStore: Sendable {
    /// One connection whose import is due now.
    package struct DueImport: Sendable, Hashable {
        /// The member whose calendar to import.
        package var memberID: String
        /// `google`, `microsoft` or `caldav`.
        package var provider: String
        /// Whether this import is the daily full resync (it replaces the regular import).
        package var fullResync: Bool

        /// Creates a due import.
        package init(memberID: String, provider: String, fullResync: Bool) {
            self.memberID = memberID
            self.provider = provider
            self.fullResync = fullResync
        }
    }

    /// How one claim of due imports turned out.
    package struct ImportBatch: Sendable {
        /// Connections to import now.
        package var due: [DueImport]
        /// New connections (no `next_import_at` yet) that got a first time spread over one interval: nothing to enqueue.
        package var scheduled: Int
        /// Due connections that will not import (cleared: inactive, export-only, ineligible) or wait for a rate
        /// limit (moved past it): nothing to enqueue.
        package var reconciled = 0
        /// Due connections whose last import is still queued: nothing to enqueue.
        package var deduplicated = 0
        /// Rows the statement claimed.
        package var touched: Int { due.count + scheduled + reconciled + deduplicated }
    }

    /// One connection whose access token expires within the margin.
    package struct DueRefresh: Sendable, Hashable {
        /// The member.
        package var memberID: String
        /// `google` or `microsoft`.
        package var provider: String
    }

    let client: PostgresClient
    let logger: Logger

    /// Creates a store over a running client.
    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// PostgreSQL's clock now (a tick's start, in the clock that stamps `next_import_at`).
    package func databaseNow() async throws -> Date {
        for try await now in try await client.query("SELECT now()", logger: logger).decode(Date.self) { return now }
        throw StoreError(code: .unreachable, message: "PostgreSQL did not answer SELECT now()")
    }

    /// How far a tick walks `connection_schedules`: its pages now, and the rows a page holds on average.
    package struct ScheduleExtent: Sendable {
        /// Pages of the table (a row added later, past them, is claimed by the next tick).
        package var pages: Int
        /// Rows per page, from the planner's statistics (60 until the table was analyzed).
        package var rowsPerPage: Double
    }

    /// The pages of `connection_schedules` and its rows per page, for sizing a tick's batches.
    package func scheduleExtent() async throws -> ScheduleExtent {
        let rows = try await client.query(
            """
            SELECT (pg_relation_size('connection_schedules') / current_setting('block_size')::int)::int8,
                   CASE WHEN c.relpages > 0 AND c.reltuples > 0 THEN c.reltuples / c.relpages ELSE 60 END::float8
            FROM pg_class c WHERE c.oid = 'connection_schedules'::regclass
            """, logger: logger)
        for try await (pages, rowsPerPage) in rows.decode((Int64, Double).self) {
            return ScheduleExtent(pages: Int(pages), rowsPerPage: max(1, rowsPerPage))
        }
        throw StoreError(code: .unreachable, message: "PostgreSQL did not describe connection_schedules")
    }

    /// Claims the due connections stored in `pages` of `connection_schedules` (physical order: a tick walks
    /// the table range by range) and moves their `next_import_at` in the same statement: for an eligible,
    /// active, importing one `now + interval·(1 + jitter·random)`, or, for one never scheduled,
    /// `now + interval·random` (so a fleet of new connections never fires at once; its daily full resync is
    /// spread over the day the same way). A due connection that will not import is cleared (NULL: a trigger
    /// reopens it when it may again), a rate-limited one moved past its limit plus jitter; neither is enqueued.
    /// One whose last import is still queued (`import_queued_until` in the future) is not enqueued again; the
    /// others are marked queued for one interval. A connection whose last full resync is older than
    /// `fullResyncAfterSeconds` gets a full resync in place of its regular import. A connection with working
    /// push (`push_status` active, channels unexpired) waits `pushPollIntervalSeconds` when given.
    /// `dueBefore` (the tick's start; default the statement's) keeps a tick from claiming again what it just
    /// rescheduled: a row rewritten on a later page than its old one is met again by the walk.
    package func claimDueImports(
        pages: Range<Int> = 0..<Int(UInt32.max), defaultIntervalSeconds: Int, jitter: Double, fullResyncAfterSeconds: Int,
        pushPollIntervalSeconds: Int? = nil, dueBefore: Date? = nil
    ) async throws -> ImportBatch {
        let pushInterval = pushPollIntervalSeconds.map {
            "CASE WHEN c.push_status = 'active' AND c.push_expires_at > now() THEN \($0)::bigint END, "
        } ?? ""
        let (first, end) = ("(\(max(0, pages.lowerBound)),0)", "(\(min(Int(UInt32.max), pages.upperBound)),0)")
        // The claimed rows are locked by this very statement, so their ctid is stable until it updates them: the
        // update finds each by ctid, not by a second primary-key lookup.
        let query: PostgresQuery = """
            WITH due AS (
                SELECT s.ctid AS row_id, s.connection_id AS id, c.member_id, c.provider,
                       s.next_import_at = '-infinity' AS is_new, coalesce(s.import_queued_until > now(), false) AS queued,
                       (c.status = 'active' AND c.sync_direction IN ('both', 'inbound')
                        AND calsync_organization_eligible(o.external_calendar_sync_enabled, o.plan)) AS importing,
                       coalesce(c.rate_limited_until > now(), false) AS limited, c.rate_limited_until,
                       coalesce(\(unescaped: pushInterval)c.import_interval_seconds::bigint, \(defaultIntervalSeconds)) AS every,
                       (s.next_import_at <> '-infinity' AND (s.last_full_resync_at IS NULL
                            OR s.last_full_resync_at <= now() - \(fullResyncAfterSeconds) * interval '1 second')) AS full
                FROM connection_schedules s
                JOIN calendar_connections c ON c.id = s.connection_id
                JOIN members m ON m.id = c.member_id
                JOIN organizations o ON o.id = m.organization_id
                WHERE s.ctid >= \(first)::tid AND s.ctid < \(end)::tid
                  AND s.next_import_at < coalesce(\(dueBefore)::timestamptz, now())
                FOR UPDATE OF s SKIP LOCKED
            ), claimed AS (
                SELECT due.*, CASE
                    WHEN NOT due.importing THEN \(ClaimOutcome.cleared.rawValue)
                    WHEN due.limited THEN \(ClaimOutcome.rateLimited.rawValue)
                    WHEN due.is_new THEN \(ClaimOutcome.scheduled.rawValue)
                    WHEN due.queued THEN \(ClaimOutcome.alreadyQueued.rawValue)
                    WHEN due.full THEN \(ClaimOutcome.fullResync.rawValue)
                    ELSE \(ClaimOutcome.regular.rawValue) END AS outcome
                FROM due
            )
            UPDATE connection_schedules s SET
                next_import_at = CASE
                    WHEN NOT due.importing THEN NULL
                    WHEN due.limited THEN due.rate_limited_until + due.every * \(jitter) * random() * interval '1 second'
                    WHEN due.is_new THEN now() + due.every * random() * interval '1 second'
                    ELSE now() + due.every * (1 + \(jitter) * random()) * interval '1 second' END,
                last_full_resync_at = CASE
                    WHEN NOT due.importing THEN s.last_full_resync_at
                    -- Waiting for a rate limit: nothing enqueued, so no full resync stamped; a new connection still
                    -- gets its spread one. Still queued: the queued import does whatever it was.
                    WHEN due.limited AND NOT (due.is_new AND s.last_full_resync_at IS NULL) THEN s.last_full_resync_at
                    WHEN due.outcome = \(ClaimOutcome.alreadyQueued.rawValue) THEN s.last_full_resync_at
                    WHEN due.full THEN now()
                    WHEN s.last_full_resync_at IS NULL THEN now() - \(fullResyncAfterSeconds) * random() * interval '1 second'
                    ELSE s.last_full_resync_at END,
                import_queued_until = CASE
                    WHEN due.outcome IN (\(ClaimOutcome.regular.rawValue), \(ClaimOutcome.fullResync.rawValue))
                    THEN now() + due.every * interval '1 second'
                    ELSE s.import_queued_until END
            FROM claimed due
            WHERE s.ctid = due.row_id
            RETURNING due.outcome, due.member_id, due.provider,
                      CASE WHEN due.outcome = \(ClaimOutcome.cleared.rawValue) THEN due.id::text END
            """
        // Row by row through the primary keys: with the range's true size the planner would hash whole tables
        // (a million connections, members) for every batch.
        let rows = try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SET LOCAL enable_hashjoin = off", logger: logger)
            try await connection.query("SET LOCAL enable_mergejoin = off", logger: logger)
            return try await connection.query(query, logger: logger).collect()
        }
        var batch = ImportBatch(due: [], scheduled: 0)
        var cleared: [String] = []
        // Decoded cell by cell with concrete types: a tuple decode looks up generic metadata on every row, which
        // was a sixth of the scheduler's CPU over 100,000 connections.
        for row in rows {
            let cells = row.makeRandomAccess()
            let outcome = ClaimOutcome(rawValue: try cells[0].decode(Int32.self)) ?? .cleared
            switch outcome {
            case .regular, .fullResync:
                batch.due.append(
                    DueImport(
                        memberID: try cells[1].decode(String.self), provider: try cells[2].decode(String.self),
                        fullResync: outcome == .fullResync))
            case .scheduled: batch.scheduled += 1
            case .alreadyQueued: batch.deduplicated += 1
            case .rateLimited: batch.reconciled += 1
            case .cleared:
                batch.reconciled += 1
                cleared.append(try cells[3].decode(String.self))
            }
        }
        if !cleared.isEmpty { try await reopenCleared(cleared) }
        return batch
    }

    /// What a claim did with one due connection (the statement's `outcome` column).
    enum ClaimOutcome: Int32 {
        /// Enqueue its regular import.
        case regular = 0
        /// Enqueue its daily full resync.
        case fullResync = 1
        /// New: it got its first time, nothing to enqueue.
        case scheduled = 2
        /// Its last import is still queued: nothing to enqueue.
        case alreadyQueued = 3
        /// Waits for a rate limit: moved past it, nothing to enqueue.
        case rateLimited = 4
        /// Does not import: cleared (its connection id comes back so that it can be re-read).
        case cleared = 5
    }

    /// The claim decided from its snapshot, without locking the connection, member and organization rows (on a
    /// million connections that lock dirtied every page of the wide table). A reconnect, or an organization
    /// turned eligible again, that committed after that snapshot would leave a connection cleared for good:
    /// the rows it cleared are read again here, as they are now and locked, and reopened when they may import.
    /// A change still in flight waits for this statement; one after it finds the NULL and its trigger reopens.
    package func reopenCleared(_ ids: [String]) async throws {
        try await client.query(
            """
            UPDATE connection_schedules s SET next_import_at = '-infinity'
            WHERE s.next_import_at IS NULL AND s.connection_id IN (
                SELECT c.id FROM calendar_connections c
                JOIN members m ON m.id = c.member_id
                JOIN organizations o ON o.id = m.organization_id
                WHERE c.id = ANY (\(ids)::uuid[])
                  AND c.status = 'active' AND c.sync_direction IN ('both', 'inbound')
                  AND calsync_organization_eligible(o.external_calendar_sync_enabled, o.plan)
                FOR SHARE OF c, m, o
            )
            """, logger: logger)
    }

    /// Up to `limit` active connections of eligible organizations (Google, Microsoft) whose access token
    /// expires within `marginSeconds`, after the key `after` (keyset pagination by member and provider).
    package func dueRefreshes(marginSeconds: Int, after: DueRefresh?, limit: Int) async throws -> [DueRefresh] {
        let afterMember = after?.memberID ?? ""
        let afterProvider = after?.provider ?? ""
        let rows = try await client.query(
            """
            SELECT c.member_id, c.provider
            FROM calendar_connections c
            JOIN members m ON m.id = c.member_id
            JOIN organizations o ON o.id = m.organization_id
            WHERE c.status = 'active' AND c.provider IN ('google', 'microsoft')
              AND c.access_token_expires_at <= now() + \(marginSeconds) * interval '1 second'
              AND calsync_organization_eligible(o.external_calendar_sync_enabled, o.plan)
              AND (c.member_id, c.provider) > (\(afterMember), \(afterProvider))
            ORDER BY c.member_id, c.provider
            LIMIT \(limit)
            """, logger: logger)
        var result: [DueRefresh] = []
        for try await (memberID, provider) in rows.decode((String, String).self) {
            result.append(DueRefresh(memberID: memberID, provider: provider))
        }
        return result
    }

    /// Takes the parked changes of up to `memberLimit` members whose organization is eligible and whose
    /// export connection is active (the same rule and marking as `PostgresSyncStore.takeParkedChanges`,
    /// for many members in one statement): exports of appointments that already ended are dropped, the
    /// rest are marked as enqueued and returned.
    package func takeReplayableParkedChanges(memberLimit: Int) async throws -> [ParkedChange] {
        let rows = try await client.query(
            """
            WITH ready AS (
                SELECT DISTINCT p.member_id
                FROM parked_changes p
                JOIN members m ON m.id = p.member_id
                JOIN organizations o ON o.id = m.organization_id
                WHERE calsync_parked_replay_due(p.replay_enqueued_at)
                  AND calsync_organization_eligible(o.external_calendar_sync_enabled, o.plan)
                  AND EXISTS (SELECT 1 FROM calendar_connections c WHERE c.member_id = p.member_id
                              AND c.status = 'active' AND c.sync_direction IN ('both', 'outbound'))
                LIMIT \(memberLimit)
            ), ended AS (
                DELETE FROM parked_changes
                WHERE member_id IN (SELECT member_id FROM ready)
                  AND kind = 'export' AND ends_at IS NOT NULL AND ends_at <= now()
            )
            UPDATE parked_changes p SET replay_enqueued_at = now()
            FROM ready
            WHERE p.member_id = ready.member_id
              AND calsync_parked_replay_due(p.replay_enqueued_at)
              AND (p.kind = 'delete' OR p.ends_at IS NULL OR p.ends_at > now())
            RETURNING p.member_id, p.appointment_id, p.revision, p.kind, p.payload, p.ends_at, p.reason
            """, logger: logger)
        return try await PostgresSyncStore.parkedChanges(rows)
    }
}
