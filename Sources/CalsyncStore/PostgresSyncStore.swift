import CalsyncSync
import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL implementation of CalsyncSync's `SyncStore`: one statement (or one transaction) per
/// method, every value a bind parameter.
package struct PostgresSyncStore: SyncStore {
    let client: PostgresClient
    let logger: Logger
    let recorder: ExportRecordBatcher
    let intents: WriteIntentBatcher
    let memberExports: MemberExportBatcher

    /// Creates a store over a running client.
    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        self.recorder = ExportRecordBatcher(client: client, logger: logger)
        self.intents = WriteIntentBatcher(client: client, logger: logger)
        self.memberExports = MemberExportBatcher(client: client, logger: logger)
    }

    /// Runs `body` in a transaction; an error thrown by `body` comes out as itself (postgres-nio wraps it),
    /// a timeout as the `StoreError` that names it.
    func transaction<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            if let closureError = error.closureError { throw StoreError.translating(closureError) }
            throw StoreError.translating(error)
        }
    }

    /// Runs one statement on the pool; a timeout comes out as the `StoreError` that names it.
    @discardableResult
    func query(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        do {
            return try await client.query(query, logger: logger)
        } catch {
            throw StoreError.translating(error)
        }
    }

    /// Runs `body`; a timeout it throws comes out as the `StoreError` that names it.
    func translatingTimeouts<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw StoreError.translating(error)
        }
    }

    package func memberState(_ memberID: String) async throws -> MemberSyncState? {
        try await translatingTimeouts {
            var rows: [MemberRow] = []
            for try await row in try await client.execute(MemberStateStatement(memberID: memberID), logger: logger) {
                rows.append(row)
            }
            return Self.memberState(memberID, rows)
        }
    }

    package func memberState(_ memberID: String, exportOf appointmentID: String, revision: Int64) async throws -> (MemberSyncState, ExportFence)? {
        // Concurrent export jobs share one statement (MemberExportBatcher).
        try await memberExports.read(.init(memberID: memberID, appointmentID: appointmentID, revision: revision))
    }

    /// A member's state from its rows (one per connection, or one with nil connection columns); nil when none.
    static func memberState(_ memberID: String, _ rows: [MemberRow]) -> MemberSyncState? {
        guard let first = rows.first else { return nil }
        var state = MemberSyncState(
            memberID: memberID, organizationID: first.organizationID,
            timeZone: TimeZone(identifier: first.timeZone) ?? TimeZone(identifier: "UTC")!,
            eligible: first.eligible, connections: [], hasParkedChanges: first.hasParkedChanges)
        for row in rows {
            guard let id = row.connectionID, let provider = row.provider.flatMap(ProviderKind.init(rawValue:)) else { continue }
            var credentials: SealedCredentials?
            if let keyID = row.credentialsKeyID, let sealed = row.credentialsSealed {
                credentials = SealedCredentials(keyID: keyID, sealed: Array(buffer: sealed))
            }
            state.connections.append(
                ConnectionRecord(
                    id: id, memberID: memberID, provider: provider, accountEmail: row.accountEmail,
                    status: row.status.flatMap(ConnectionStatus.init(rawValue:)) ?? .disconnected,
                    statusDetail: row.statusDetail, exportCalendarID: row.exportCalendarID,
                    busyCalendarIDs: row.busyCalendarIDs ?? [],
                    syncDirection: row.syncDirection.flatMap(SyncDirection.init(rawValue:)) ?? .inbound,
                    eventDetails: row.eventDetails.flatMap(EventDetails.init(rawValue:)) ?? .private,
                    credentials: credentials))
        }
        return state
    }

    package func exportState(memberID: String, appointmentID: String, revision: Int64) async throws -> ExportFence {
        try await translatingTimeouts {
            let statement = ExportStateStatement(memberID: memberID, appointmentID: appointmentID, revision: revision)
            for try await view in try await client.execute(statement, logger: logger) {
                return view.fence
            }
            return ExportFence(state: nil)
        }
    }

    package func recordExport(
        memberID: String, appointmentID: String, revision: Int64, state: ExportState, calledConnectionID: String?,
        writeToken: String?
    ) async throws -> Bool {
        // Concurrent jobs' records share statements (ExportRecordBatcher); alone, this is one single-row statement.
        try await recorder.record(
            ExportRecord(
                memberID: memberID, appointmentID: appointmentID, revision: revision, connectionID: state.connectionID,
                calendarID: state.calendarID, externalEventID: state.externalEventID, contentHash: state.contentHash,
                eventPresent: state.eventPresent, calledConnectionID: calledConnectionID, writeToken: writeToken ?? "",
                verifyAfter: state.verifyAfter, etag: state.etag ?? "", written: state.written,
                appliedPayload: state.appliedPayload.map { String(decoding: $0, as: UTF8.self) } ?? "", videoURL: state.videoURL ?? ""))
    }

    package func beginProviderWrite(_ intent: ProviderWriteIntent) async throws {
        // Concurrent jobs' intents share statements; alone, this is one single-row statement.
        try await translatingTimeouts { try await intents.record(intent) }
    }

    package func settleProviderWrite(memberID: String, appointmentID: String, token: String) async throws {
        try await translatingTimeouts {
            try await client.query(
                "DELETE FROM export_write_intents WHERE member_id = \(memberID) AND appointment_id = \(appointmentID) AND token = \(token)",
                logger: logger)
        }
    }

    package func recordVerification(
        memberID: String, appointmentID: String, revision: Int64, verifyAfter: Date, state: ExportState, writeToken: String
    ) async throws -> Bool {
        try await translatingTimeouts { try await transaction { connection in
            try await connection.query(
                """
                DELETE FROM export_write_intents
                WHERE member_id = \(memberID) AND appointment_id = \(appointmentID)
                  AND (token = \(writeToken) OR (revision <= \(revision) AND settles_at <= \(verifyAfter)))
                """,
                logger: logger)
            let rows = try await connection.query(
                """
                UPDATE appointment_exports
                SET verify_after = CASE WHEN verify_after <= \(verifyAfter) THEN NULL ELSE verify_after END,
                    connection_id = \(state.connectionID)::uuid, calendar_id = \(state.calendarID),
                    external_event_id = \(state.externalEventID), content_hash = \(state.contentHash),
                    event_present = \(state.eventPresent), etag = \(state.etag), video_url = \(state.videoURL), updated_at = now()
                WHERE member_id = \(memberID) AND appointment_id = \(appointmentID) AND applied_revision = \(revision)
                RETURNING 1
                """,
                logger: logger)
            var applied = false
            for try await _ in rows { applied = true }
            return applied
        } }
    }

    package func recordOutboundAttempt(connectionID: String, error: String?) async throws {
        try await query(
            """
            UPDATE calendar_connections SET last_outbound_sync_at = now(), last_outbound_error = \(error), updated_at = now()
            WHERE id = \(connectionID)::uuid AND status <> 'disconnected'
            """, logger: logger)
    }

    package func recordRateLimited(connectionID: String, until: Date) async throws {
        try await query(
            """
            UPDATE calendar_connections SET rate_limited_until = \(until), updated_at = now()
            WHERE id = \(connectionID)::uuid AND (rate_limited_until IS NULL OR rate_limited_until < \(until))
            """, logger: logger)
    }

    package func recordInboundAttempt(connectionID: String, error: String?) async throws {
        try await query(
            """
            UPDATE calendar_connections SET last_inbound_sync_at = now(), last_inbound_error = \(error), updated_at = now()
            WHERE id = \(connectionID)::uuid AND status <> 'disconnected'
            """, logger: logger)
    }

    package func importStarted(connectionIDs: [String]) async throws {
        // Only rows that carry the mark are written (an import enqueued by push or by hand finds none).
        try await query(
            """
            UPDATE connection_schedules SET import_queued_until = NULL
            WHERE connection_id = ANY (\(connectionIDs)::uuid[]) AND import_queued_until IS NOT NULL
            """, logger: logger)
    }

    package func park(_ change: ParkedChange) async throws {
        let payload = String(decoding: change.payload, as: UTF8.self)
        try await query(
            """
            INSERT INTO parked_changes AS p (member_id, appointment_id, revision, kind, payload, ends_at, reason)
            SELECT \(change.memberID), \(change.appointmentID), \(change.revision), \(change.kind.rawValue), \(payload),
                   \(change.endsAt), \(change.reason)
            WHERE NOT EXISTS (SELECT 1 FROM appointment_exports e WHERE e.member_id = \(change.memberID)
                              AND e.appointment_id = \(change.appointmentID) AND e.applied_revision >= \(change.revision))
            ON CONFLICT (member_id, appointment_id) DO UPDATE SET
                revision = EXCLUDED.revision, kind = EXCLUDED.kind, payload = EXCLUDED.payload, ends_at = EXCLUDED.ends_at,
                reason = EXCLUDED.reason, parked_at = now(), replay_enqueued_at = NULL
            WHERE p.revision <= EXCLUDED.revision
            """, logger: logger)
    }

    package func takeParkedChanges(memberID: String, now: Date) async throws -> [ParkedChange] {
        try await translatingTimeouts {
            let rows = try await query(
                """
                WITH ended AS (
                    DELETE FROM parked_changes
                    WHERE member_id = \(memberID) AND kind = 'export' AND ends_at IS NOT NULL AND ends_at <= \(now)
                )
                UPDATE parked_changes SET replay_enqueued_at = now()
                WHERE member_id = \(memberID)
                  AND calsync_parked_replay_due(replay_enqueued_at)
                  AND (kind = 'delete' OR ends_at IS NULL OR ends_at > \(now))
                RETURNING member_id, appointment_id, revision, kind, payload, ends_at, reason
                """, logger: logger)
            return try await Self.parkedChanges(rows)
        }
    }

    /// Parked changes from rows of `member_id, appointment_id, revision, kind, payload, ends_at, reason`.
    static func parkedChanges(_ rows: PostgresRowSequence) async throws -> [ParkedChange] {
        var changes: [ParkedChange] = []
        for try await (memberID, appointmentID, revision, kind, payload, endsAt, reason) in rows.decode(
            (String, String, Int64, String, String, Date?, String).self)
        {
            changes.append(
                ParkedChange(
                    memberID: memberID, appointmentID: appointmentID, revision: revision,
                    kind: ParkedChange.Kind(rawValue: kind) ?? .export, payload: Array(payload.utf8), endsAt: endsAt,
                    reason: reason))
        }
        return changes
    }

    package func saveConnection(_ connection: NewConnection) async throws -> ConnectionRecord {
        try await translatingTimeouts {
            let sealed = ByteBuffer(bytes: connection.credentials.sealed)
            let rows = try await query(
                """
                INSERT INTO calendar_connections AS c (member_id, provider, account_email, status, status_detail,
                    export_calendar_id, busy_calendar_ids, sync_direction, credentials_sealed, credentials_key_id,
                    access_token_expires_at, connected_by_job_id)
                VALUES (\(connection.memberID), \(connection.provider.rawValue), \(connection.accountEmail), 'active', NULL,
                    \(connection.primaryCalendarID), ARRAY[\(connection.primaryCalendarID)]::text[],
                    CASE WHEN EXISTS (SELECT 1 FROM calendar_connections o WHERE o.member_id = \(connection.memberID)
                                      AND o.provider <> \(connection.provider.rawValue) AND o.sync_direction IN ('both', 'outbound'))
                         THEN 'inbound' ELSE 'both' END,
                    \(sealed), \(connection.credentials.keyID), \(connection.accessTokenExpiresAt), \(connection.jobID))
                ON CONFLICT (member_id, provider) DO UPDATE SET
                    status = 'active', status_detail = NULL, connected_by_job_id = EXCLUDED.connected_by_job_id,
                    credentials_sealed = EXCLUDED.credentials_sealed, credentials_key_id = EXCLUDED.credentials_key_id,
                    access_token_expires_at = EXCLUDED.access_token_expires_at,
                    export_calendar_id = CASE WHEN c.export_calendar_id IS NULL OR c.account_email IS DISTINCT FROM EXCLUDED.account_email
                                              THEN EXCLUDED.export_calendar_id ELSE c.export_calendar_id END,
                    busy_calendar_ids = CASE WHEN cardinality(c.busy_calendar_ids) = 0 OR c.account_email IS DISTINCT FROM EXCLUDED.account_email
                                             THEN EXCLUDED.busy_calendar_ids ELSE c.busy_calendar_ids END,
                    account_email = EXCLUDED.account_email,
                    updated_at = now()
                RETURNING id::text, status, export_calendar_id, busy_calendar_ids, sync_direction, event_details
                """, logger: logger)
            for try await (id, status, exportCalendar, busy, direction, details) in rows.decode(
                (String, String, String?, [String], String, String).self)
            {
                return ConnectionRecord(
                    id: id, memberID: connection.memberID, provider: connection.provider,
                    accountEmail: connection.accountEmail, status: ConnectionStatus(rawValue: status) ?? .active,
                    statusDetail: nil, exportCalendarID: exportCalendar, busyCalendarIDs: busy,
                    syncDirection: SyncDirection(rawValue: direction) ?? .inbound,
                    eventDetails: EventDetails(rawValue: details) ?? .private, credentials: connection.credentials)
            }
            throw StoreError(code: .writeFailed, message: "saving the calendar connection returned no row")
        }
    }

    package func connectionSaved(byJob jobID: String, memberID: String, provider: ProviderKind) async throws -> Bool {
        try await translatingTimeouts {
            let rows = try await client.query(
                """
                SELECT 1 FROM calendar_connections
                WHERE member_id = \(memberID) AND provider = \(provider.rawValue) AND connected_by_job_id = \(jobID) AND status = 'active'
                """, logger: logger)
            for try await _ in rows { return true }
            return false
        }
    }

    @discardableResult
    package func setStatus(connectionID: String, status: ConnectionStatus, detail: String?) async throws -> Bool {
        try await translatingTimeouts {
            let rows = try await query(
                """
                UPDATE calendar_connections SET status = \(status.rawValue), status_detail = \(detail), updated_at = now()
                WHERE id = \(connectionID)::uuid AND status <> 'disconnected'
                RETURNING 1
                """, logger: logger)
            for try await _ in rows { return true }
            return false
        }
    }

    package func disconnect(connectionID: String, detail: String) async throws {
        let logger = self.logger
        try await transaction { connection in
            // The connection row first: busy writes lock it (FOR SHARE) before their blocks, so a disconnect
            // waits for a running write and every later one sees `disconnected` (and no deadlock).
            try await connection.query(
                """
                UPDATE calendar_connections SET status = 'disconnected', status_detail = \(detail),
                    credentials_sealed = NULL, credentials_key_id = NULL, access_token_expires_at = NULL, updated_at = now()
                WHERE id = \(connectionID)::uuid
                """, logger: logger)
            try await connection.query(
                "DELETE FROM external_busy_blocks WHERE connection_id = \(connectionID)::uuid", logger: logger)
            try await connection.query(
                "DELETE FROM busy_sync_cursors WHERE connection_id = \(connectionID)::uuid", logger: logger)
        }
    }

    /// Whether busy blocks and cursors may be written for a connection: it exists and is not `disconnected`.
    /// Locks the row (FOR SHARE) until the caller's transaction ends, so a disconnect cannot commit in between.
    static func acceptsBusyWrites(connectionID: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query(
            "SELECT status FROM calendar_connections WHERE id = \(connectionID)::uuid FOR SHARE", logger: logger)
        for try await status in rows.decode(String.self) { return status != ConnectionStatus.disconnected.rawValue }
        return false
    }

    package func withCredentialLock(
        connectionID: String,
        _ body: @Sendable (SealedCredentials?) async throws -> CredentialUpdate
    ) async throws -> SealedCredentials? {
        let logger = self.logger
        return try await transaction { connection in
            let rows = try await connection.query(
                """
                SELECT status, credentials_key_id, credentials_sealed FROM calendar_connections
                WHERE id = \(connectionID)::uuid FOR UPDATE
                """, logger: logger)
            var current: SealedCredentials?
            var disconnected = true
            for try await (status, keyID, sealed) in rows.decode((String, String?, ByteBuffer?).self) {
                disconnected = status == ConnectionStatus.disconnected.rawValue
                if let keyID, let sealed { current = SealedCredentials(keyID: keyID, sealed: Array(buffer: sealed)) }
            }
            // A disconnect wins: no refresh for it, and nothing stored.
            guard !disconnected else { return nil }
            switch try await body(current) {
            case .keep:
                return current
            case .store(let fresh, let expiresAt):
                let bytes = ByteBuffer(bytes: fresh.sealed)
                try await connection.query(
                    """
                    UPDATE calendar_connections SET credentials_sealed = \(bytes), credentials_key_id = \(fresh.keyID),
                        access_token_expires_at = \(expiresAt), updated_at = now()
                    WHERE id = \(connectionID)::uuid AND status <> 'disconnected'
                    """, logger: logger)
                return fresh
            }
        }
    }

    package func cursor(connectionID: String, calendarID: String) async throws -> SyncCursor? {
        try await translatingTimeouts {
            let rows = try await query(
                """
                SELECT cursor FROM busy_sync_cursors WHERE connection_id = \(connectionID)::uuid AND calendar_id = \(calendarID)
                """, logger: logger)
            for try await value in rows.decode(String.self) { return SyncCursor(value) }
            return nil
        }
    }

    package func replaceBusyBlocks(
        connectionID: String, memberID: String, calendarID: String, window: DateInterval, events: [BusyEvent],
        scope: BusyReadScope
    ) async throws -> ImportCounts {
        let logger = self.logger
        var events = events
        if scope == .explicit {
            events = events.filter { BusyReadScope.overlaps(start: $0.start, end: $0.end, window) }
        }
        return try await transaction { connection in
            guard try await Self.acceptsBusyWrites(connectionID: connectionID, on: connection, logger: logger) else {
                return ImportCounts()
            }
            let rows = try await connection.query(
                """
                SELECT external_event_id, starts_at, ends_at, all_day FROM external_busy_blocks
                WHERE connection_id = \(connectionID)::uuid AND calendar_id = \(calendarID)
                """, logger: logger)
            var existing: [String: (start: Date, end: Date, allDay: Bool)] = [:]
            for try await (id, start, end, allDay) in rows.decode((String, Date, Date, Bool).self) {
                existing[id] = (start, end, allDay)
            }
            var found = Set<String>()
            var changed: [BusyEvent] = []
            var inserted = 0
            for event in events where found.insert(event.externalEventID).inserted {
                if let old = existing[event.externalEventID] {
                    if old.start != event.start || old.end != event.end || old.allDay != event.isAllDay {
                        changed.append(event)
                    }
                } else {
                    inserted += 1
                    changed.append(event)
                }
            }
            // Gone: blocks of this calendar inside the window that the read did not return; after a rolling
            // read also those that ended before the window (an explicit window says nothing about them).
            let gone = existing.compactMap { id, block -> String? in
                guard !found.contains(id) else { return nil }
                let inWindow = block.start < window.end && block.end > window.start
                if case .rolling = scope, block.end <= window.start { return id }
                return inWindow ? id : nil
            }
            try await Self.upsert(changed, connectionID: connectionID, memberID: memberID, calendarID: calendarID, on: connection, logger: logger)
            try await Self.delete(gone, connectionID: connectionID, calendarID: calendarID, on: connection, logger: logger)
            if case .rolling(let cursor) = scope {
                try await Self.store(cursor, connectionID: connectionID, calendarID: calendarID, on: connection, logger: logger)
            }
            return ImportCounts(inserted: inserted, updated: changed.count - inserted, deleted: gone.count)
        }
    }

    package func applyBusyChanges(
        connectionID: String, memberID: String, calendarID: String, upserts: [BusyEvent], removedEventIDs: [String],
        cursor: SyncCursor?
    ) async throws -> ImportCounts {
        let logger = self.logger
        return try await transaction { connection in
            guard try await Self.acceptsBusyWrites(connectionID: connectionID, on: connection, logger: logger) else {
                return ImportCounts()
            }
            var latest: [String: BusyEvent] = [:]
            for event in upserts { latest[event.externalEventID] = event }
            let removed = Array(Set(removedEventIDs).subtracting(latest.keys))
            let (inserted, updated) = try await Self.upsert(
                Array(latest.values), connectionID: connectionID, memberID: memberID, calendarID: calendarID,
                on: connection, logger: logger)
            let deleted = try await Self.delete(removed, connectionID: connectionID, calendarID: calendarID, on: connection, logger: logger)
            try await Self.store(cursor, connectionID: connectionID, calendarID: calendarID, on: connection, logger: logger)
            return ImportCounts(inserted: inserted, updated: updated, deleted: deleted)
        }
    }

    /// Inserts or moves blocks in one statement; returns (inserted, updated). Unchanged rows are not written.
    @discardableResult
    static func upsert(
        _ events: [BusyEvent], connectionID: String, memberID: String, calendarID: String, on connection: PostgresConnection,
        logger: Logger
    ) async throws -> (Int, Int) {
        guard !events.isEmpty else { return (0, 0) }
        let ids = events.map(\.externalEventID)
        let starts = events.map(\.start)
        let ends = events.map(\.end)
        let allDay = events.map(\.isAllDay)
        let rows = try await connection.query(
            """
            INSERT INTO external_busy_blocks AS b (member_id, connection_id, calendar_id, external_event_id, starts_at, ends_at, all_day)
            SELECT \(memberID), \(connectionID)::uuid, \(calendarID), u.id, u.s, u.e, u.a
            FROM unnest(\(ids)::text[], \(starts)::timestamptz[], \(ends)::timestamptz[], \(allDay)::boolean[]) AS u (id, s, e, a)
            ON CONFLICT (connection_id, calendar_id, external_event_id) DO UPDATE SET
                starts_at = EXCLUDED.starts_at, ends_at = EXCLUDED.ends_at, all_day = EXCLUDED.all_day, updated_at = now()
            WHERE (b.starts_at, b.ends_at, b.all_day) IS DISTINCT FROM (EXCLUDED.starts_at, EXCLUDED.ends_at, EXCLUDED.all_day)
            RETURNING (xmax = 0)
            """, logger: logger)
        var inserted = 0
        var updated = 0
        for try await fresh in rows.decode(Bool.self) {
            if fresh { inserted += 1 } else { updated += 1 }
        }
        return (inserted, updated)
    }

    @discardableResult
    static func delete(
        _ ids: [String], connectionID: String, calendarID: String, on connection: PostgresConnection, logger: Logger
    ) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        let rows = try await connection.query(
            """
            DELETE FROM external_busy_blocks
            WHERE connection_id = \(connectionID)::uuid AND calendar_id = \(calendarID) AND external_event_id = ANY(\(ids)::text[])
            RETURNING 1
            """, logger: logger)
        var count = 0
        for try await _ in rows { count += 1 }
        return count
    }

    static func store(
        _ cursor: SyncCursor?, connectionID: String, calendarID: String, on connection: PostgresConnection, logger: Logger
    ) async throws {
        if let cursor {
            try await connection.query(
                """
                INSERT INTO busy_sync_cursors AS s (connection_id, calendar_id, cursor) VALUES (\(connectionID)::uuid, \(calendarID), \(cursor.value))
                ON CONFLICT (connection_id, calendar_id) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()
                WHERE s.cursor IS DISTINCT FROM EXCLUDED.cursor
                """, logger: logger)
        } else {
            try await connection.query(
                """
                DELETE FROM busy_sync_cursors WHERE connection_id = \(connectionID)::uuid AND calendar_id = \(calendarID)
                """, logger: logger)
        }
    }
}
