extension Migrations {
    /// 16: when each connection's next import is due, and its last daily full resync, in a narrow table of
    /// their own. A tick moves the due time of every connection it enqueues; in `calendar_connections`
    /// (wide rows, four indexes) that cost about 60 µs a row, in this table about 12 (`make bench`).
    /// `next_import_at`: `-infinity` while a connection has no time yet (new, or it may import again: the
    /// next tick draws one, spread over an interval); NULL while it does not import (inactive, export-only,
    /// ineligible organization: the tick that finds it due clears it); else when it is due. Triggers add a
    /// row with every new connection and reopen a cleared one when its connection, member or organization
    /// changes so that it may import again; no tick scans the whole table.
    static let v16Schedules = Migration(
        version: 16,
        name: "connection_schedules",
        statements: [
            """
            CREATE TABLE connection_schedules (
                connection_id uuid PRIMARY KEY REFERENCES calendar_connections (id) ON DELETE CASCADE,
                next_import_at timestamptz,
                last_full_resync_at timestamptz
            )
            """,
            // The trigger first: a connection inserted while the backfill runs gets its row either way.
            """
            CREATE FUNCTION calsync_add_connection_schedules() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO connection_schedules (connection_id, next_import_at)
                SELECT id, '-infinity' FROM added ON CONFLICT DO NOTHING;
                RETURN NULL;
            END
            $$
            """,
            """
            CREATE TRIGGER calendar_connections_add_schedules AFTER INSERT ON calendar_connections
            REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION calsync_add_connection_schedules()
            """,
            """
            INSERT INTO connection_schedules (connection_id, next_import_at, last_full_resync_at)
            SELECT id, coalesce(next_import_at, '-infinity'), last_full_resync_at FROM calendar_connections
            ON CONFLICT DO NOTHING
            """,
            "CREATE INDEX connection_schedules_due_idx ON connection_schedules (next_import_at) WHERE next_import_at IS NOT NULL",
            """
            CREATE FUNCTION calsync_reopen_connection_schedules() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                -- Every row of the connection(s) is updated, not only those cleared now: a claim that read the old
                -- state may hold the row and clear it; this update waits for that claim and then sees its NULL.
                IF TG_TABLE_NAME = 'calendar_connections' THEN
                    UPDATE connection_schedules SET next_import_at = coalesce(next_import_at, '-infinity')
                    WHERE connection_id = NEW.id;
                ELSIF TG_TABLE_NAME = 'members' THEN
                    UPDATE connection_schedules s SET next_import_at = coalesce(s.next_import_at, '-infinity')
                    FROM calendar_connections c
                    WHERE c.member_id = NEW.id AND s.connection_id = c.id;
                ELSE
                    UPDATE connection_schedules s SET next_import_at = coalesce(s.next_import_at, '-infinity')
                    FROM calendar_connections c JOIN members m ON m.id = c.member_id
                    WHERE m.organization_id = NEW.id AND s.connection_id = c.id;
                END IF;
                RETURN NULL;
            END
            $$
            """,
            """
            CREATE TRIGGER calendar_connections_reopen_schedules AFTER UPDATE OF status, sync_direction ON calendar_connections
            FOR EACH ROW WHEN (NEW.status = 'active' AND NEW.sync_direction IN ('both', 'inbound')
                               AND (OLD.status, OLD.sync_direction) IS DISTINCT FROM (NEW.status, NEW.sync_direction))
            EXECUTE FUNCTION calsync_reopen_connection_schedules()
            """,
            """
            CREATE TRIGGER members_reopen_schedules AFTER UPDATE OF organization_id ON members
            FOR EACH ROW WHEN (OLD.organization_id IS DISTINCT FROM NEW.organization_id)
            EXECUTE FUNCTION calsync_reopen_connection_schedules()
            """,
            """
            CREATE TRIGGER organizations_reopen_schedules AFTER UPDATE OF plan, external_calendar_sync_enabled ON organizations
            FOR EACH ROW WHEN (calsync_organization_eligible(NEW.external_calendar_sync_enabled, NEW.plan)
                               AND NOT calsync_organization_eligible(OLD.external_calendar_sync_enabled, OLD.plan))
            EXECUTE FUNCTION calsync_reopen_connection_schedules()
            """,
            "DROP INDEX calendar_connections_next_import_idx",
            "ALTER TABLE calendar_connections DROP COLUMN next_import_at, DROP COLUMN last_full_resync_at",
        ]
    )
}

extension Migrations {
    /// 17: a tick walks `connection_schedules` in physical order, a range of pages per statement, instead of
    /// reading `next_import_at` through an index; with no index on the columns a claim changes, and half of
    /// every page left free, a claim rewrites each row in place (a HOT update: no index entry is written), and
    /// costs PostgreSQL about half what it did (`make bench`). The scheduler's "an import of this connection is
    /// already queued" mark moves here from one Redis key per connection: the claim that enqueues an import sets
    /// `import_queued_until` (now + the connection's interval), a claim that finds it in the future enqueues
    /// nothing, and the import clears it once it holds the member's import lock.
    static let v17ScheduleWalk = Migration(
        version: 17,
        name: "schedule_walk",
        statements: [
            "ALTER TABLE connection_schedules ADD COLUMN import_queued_until timestamptz",
            "DROP INDEX connection_schedules_due_idx",
            // Pages written from now on keep half their space for the new versions of their own rows.
            "ALTER TABLE connection_schedules SET (fillfactor = 50)",
        ])
}
