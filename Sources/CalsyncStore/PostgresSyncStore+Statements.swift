import CalsyncSync
import Foundation
import PostgresNIO

// The statements every export runs, prepared once per connection: parsing and planning them on every
// call cost PostgreSQL more than executing them (`make bench`, bench/README.md).

/// One row of a member's state: the member and organization columns, and one connection (all nil when none).
struct MemberRow {
    var organizationID: String
    var timeZone: String
    var eligible: Bool
    var hasParkedChanges: Bool
    var connectionID: String?
    var provider: String?
    var accountEmail: String?
    var status: String?
    var statusDetail: String?
    var exportCalendarID: String?
    var busyCalendarIDs: [String]?
    var syncDirection: String?
    var eventDetails: String?
    var credentialsKeyID: String?
    var credentialsSealed: ByteBuffer?

    /// The select list the columns are decoded from, in order (`m` members, `o` organizations, `c` connections).
    static let columns = """
        m.organization_id, m.time_zone,
        calsync_organization_eligible(o.external_calendar_sync_enabled, o.plan),
        EXISTS (SELECT 1 FROM parked_changes p WHERE p.member_id = m.id AND calsync_parked_replay_due(p.replay_enqueued_at)),
        c.id::text, c.provider, c.account_email, c.status, c.status_detail, c.export_calendar_id,
        c.busy_calendar_ids, c.sync_direction, c.event_details, c.credentials_key_id, c.credentials_sealed
        """
    static let count = 15

    init(_ row: PostgresRandomAccessRow, from base: Int = 0) throws {
        organizationID = try row[base + 0].decode(String.self)
        timeZone = try row[base + 1].decode(String.self)
        eligible = try row[base + 2].decode(Bool.self)
        hasParkedChanges = try row[base + 3].decode(Bool.self)
        connectionID = try row[base + 4].decode(String?.self)
        provider = try row[base + 5].decode(String?.self)
        accountEmail = try row[base + 6].decode(String?.self)
        status = try row[base + 7].decode(String?.self)
        statusDetail = try row[base + 8].decode(String?.self)
        exportCalendarID = try row[base + 9].decode(String?.self)
        busyCalendarIDs = try row[base + 10].decode([String]?.self)
        syncDirection = try row[base + 11].decode(String?.self)
        eventDetails = try row[base + 12].decode(String?.self)
        credentialsKeyID = try row[base + 13].decode(String?.self)
        credentialsSealed = try row[base + 14].decode(ByteBuffer?.self)
    }
}

/// A member's organization eligibility, parked-change flag and connections (one row per connection).
struct MemberStateStatement: PostgresPreparedStatement {
    static let sql = """
        SELECT \(MemberRow.columns)
        FROM members m
        JOIN organizations o ON o.id = m.organization_id
        LEFT JOIN calendar_connections c ON c.member_id = m.id
        WHERE m.id = $1
        ORDER BY c.created_at
        """
    typealias Row = MemberRow

    var memberID: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 1)
        bindings.append(memberID)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try MemberRow(row.makeRandomAccess()) }
}

/// What the store knows of one appointment's event: the applied state (nil when nothing was ever applied)
/// and until when an older write whose outcome is unknown may still land.
struct ExportView {
    var state: ExportState?
    var olderUnsettledUntil: Date?
    var sameRevisionUnsettledUntil: Date?

    var fence: ExportFence {
        ExportFence(state: state, olderUnsettledUntil: olderUnsettledUntil, sameRevisionUnsettledUntil: sameRevisionUnsettledUntil)
    }
}

/// The export state of one appointment for one member.
struct ExportStateStatement: PostgresPreparedStatement {
    /// The export columns (`e` appointment_exports, `$1` member, `$2` appointment, `$3` revision).
    static let columns = columns(member: "$1", appointment: "$2", revision: "$3")

    /// The export columns with the member, appointment and revision taken from these SQL expressions.
    static func columns(member: String, appointment: String, revision: String) -> String {
        """
        e.applied_revision, e.connection_id::text, e.calendar_id, e.external_event_id, e.content_hash, e.event_present,
        e.verify_after,
        (SELECT max(i.settles_at) FROM export_write_intents i
         WHERE i.member_id = \(member) AND i.appointment_id = \(appointment) AND i.revision < \(revision)),
        (SELECT max(i.settles_at) FROM export_write_intents i
         WHERE i.member_id = \(member) AND i.appointment_id = \(appointment) AND i.revision = \(revision)),
        e.etag, e.video_url
        """
    }
    static let sql = """
        SELECT \(columns)
        FROM (SELECT 1) one LEFT JOIN appointment_exports e ON e.member_id = $1 AND e.appointment_id = $2
        """
    typealias Row = ExportView

    var memberID: String
    var appointmentID: String
    var revision: Int64

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 3)
        bindings.append(memberID)
        bindings.append(appointmentID)
        bindings.append(revision)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try Self.decode(row.makeRandomAccess(), from: 0) }

    /// Decodes `columns` starting at cell `base`.
    static func decode(_ cells: PostgresRandomAccessRow, from base: Int) throws -> ExportView {
        let unsettled = try cells[base + 7].decode(Date?.self)
        let sameRevision = try cells[base + 8].decode(Date?.self)
        guard let revision = try cells[base].decode(Int64?.self) else {
            return ExportView(state: nil, olderUnsettledUntil: unsettled, sameRevisionUnsettledUntil: sameRevision)
        }
        var state = ExportState(
            appliedRevision: revision, connectionID: try cells[base + 1].decode(String?.self),
            calendarID: try cells[base + 2].decode(String?.self), externalEventID: try cells[base + 3].decode(String?.self),
            contentHash: try cells[base + 4].decode(String?.self), eventPresent: try cells[base + 5].decode(Bool.self),
            verifyAfter: try cells[base + 6].decode(Date?.self), etag: try cells[base + 9].decode(String?.self))
        state.videoURL = try cells[base + 10].decode(String?.self)
        return ExportView(state: state, olderUnsettledUntil: unsettled, sameRevisionUnsettledUntil: sameRevision)
    }
}

/// One export result to record: the applied revision and where the event is.
struct ExportRecord: Sendable {
    var memberID: String
    var appointmentID: String
    var revision: Int64
    var connectionID: String?
    var calendarID: String?
    var externalEventID: String?
    var contentHash: String?
    var eventPresent: Bool
    /// The connection whose provider was called: its last outbound sync is stamped (error cleared).
    var calledConnectionID: String?
    /// The token of the provider write this job made, whose intent is settled now ('' none).
    var writeToken: String = ""
    /// When the event must be verified again (an older write may land until then); nil: nothing pending.
    var verifyAfter: Date?
    /// The event's version as the provider last answered ('' none).
    var etag: String = ""
    /// The times written (two-way; nil when no event).
    var written: DateInterval?
    /// The applied payload, for `restore` ('' none).
    var appliedPayload: String = ""
    /// The video join URL ('' none).
    var videoURL: String = ""

    /// The row's key in `appointment_exports`, as the statement returns it.
    var key: String { memberID + "\u{0}" + appointmentID }
}

/// Records applied export revisions, one row per appointment (each only when newer than the recorded one),
/// clears the parked changes they supersede and stamps the connections that were called. Nullable text
/// columns travel as '' (none of them is ever empty): postgres-nio has no arrays of optionals.
struct RecordExportsStatement: PostgresPreparedStatement {
    static let sql = """
        WITH input AS (
            SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::boolean[],
                                 $10::text[], $11::timestamptz[], $12::text[], $13::timestamptz[], $14::timestamptz[], $15::text[], $16::text[])
                AS i (member_id, appointment_id, revision, connection_id, calendar_id, external_event_id, content_hash, event_present,
                      write_token, verify_after, etag, written_starts_at, written_ends_at, applied_payload, video_url)
        ), up AS (
            INSERT INTO appointment_exports AS e (member_id, appointment_id, applied_revision, connection_id,
                calendar_id, external_event_id, content_hash, event_present, verify_after, etag,
                written_starts_at, written_ends_at, applied_payload, video_url, updated_at)
            SELECT member_id, appointment_id, revision, NULLIF(connection_id, '')::uuid, NULLIF(calendar_id, ''),
                   NULLIF(external_event_id, ''), NULLIF(content_hash, ''), event_present,
                   NULLIF(verify_after, 'epoch'::timestamptz), NULLIF(etag, ''),
                   NULLIF(written_starts_at, 'epoch'::timestamptz), NULLIF(written_ends_at, 'epoch'::timestamptz),
                   NULLIF(applied_payload, ''), NULLIF(video_url, ''), now()
            FROM input
            ON CONFLICT (member_id, appointment_id) DO UPDATE SET
                applied_revision = EXCLUDED.applied_revision, connection_id = EXCLUDED.connection_id,
                calendar_id = EXCLUDED.calendar_id, external_event_id = EXCLUDED.external_event_id,
                content_hash = EXCLUDED.content_hash, event_present = EXCLUDED.event_present,
                verify_after = EXCLUDED.verify_after, etag = EXCLUDED.etag,
                written_starts_at = EXCLUDED.written_starts_at, written_ends_at = EXCLUDED.written_ends_at,
                applied_payload = EXCLUDED.applied_payload, video_url = EXCLUDED.video_url, updated_at = now()
            WHERE e.applied_revision < EXCLUDED.applied_revision
            RETURNING e.member_id, e.appointment_id, e.applied_revision
        ), settled AS (
            -- This job's own write is settled (its answer came); older revisions' unsettled writes are now
            -- covered by verify_after when they were applied over. Earlier attempts of this revision stay: where
            -- ids derive from the appointment this job ignored them, and a later revision must still see them.
            DELETE FROM export_write_intents w USING input
            WHERE w.member_id = input.member_id AND w.appointment_id = input.appointment_id
              AND (w.token = input.write_token
                   OR (w.revision < input.revision AND EXISTS (
                       SELECT 1 FROM up WHERE up.member_id = input.member_id AND up.appointment_id = input.appointment_id)))
        ), cleared AS (
            DELETE FROM parked_changes p USING up
            WHERE p.member_id = up.member_id AND p.appointment_id = up.appointment_id AND p.revision <= up.applied_revision
        ), stamped AS (
            UPDATE calendar_connections SET last_outbound_sync_at = now(), last_outbound_error = NULL, updated_at = now()
            WHERE id = ANY ($9::uuid[]) AND status <> 'disconnected'
        )
        SELECT member_id, appointment_id FROM up
        """
    typealias Row = (String, String)

    let rows: [ExportRecord]

    init(_ rows: [ExportRecord]) { self.rows = rows }

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 16)
        bindings.append(rows.map(\.memberID))
        bindings.append(rows.map(\.appointmentID))
        bindings.append(rows.map(\.revision))
        bindings.append(rows.map { $0.connectionID ?? "" })
        bindings.append(rows.map { $0.calendarID ?? "" })
        bindings.append(rows.map { $0.externalEventID ?? "" })
        bindings.append(rows.map { $0.contentHash ?? "" })
        bindings.append(rows.map(\.eventPresent))
        bindings.append(Array(Set(rows.compactMap(\.calledConnectionID))))
        bindings.append(rows.map(\.writeToken))
        // postgres-nio has no arrays of optionals: 'epoch' stands for none.
        bindings.append(rows.map { $0.verifyAfter ?? Date(timeIntervalSince1970: 0) })
        bindings.append(rows.map(\.etag))
        bindings.append(rows.map { $0.written?.start ?? Date(timeIntervalSince1970: 0) })
        bindings.append(rows.map { $0.written?.end ?? Date(timeIntervalSince1970: 0) })
        bindings.append(rows.map(\.appliedPayload))
        bindings.append(rows.map(\.videoURL))
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode((String, String).self) }
}

