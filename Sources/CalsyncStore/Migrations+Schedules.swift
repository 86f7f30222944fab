extension Migrations {
    /// 16: when each connection's next import is due, and its last daily full resync, in a narrow table of
    /// their own. A tick moves the due time of every connection it enqueues; in `calendar_connections`
    /// (wide rows, four indexes) that cost about 60 µs a row, in this table about 12 (`make bench`).
    /// `next_import_at`: NULL while the connection does not import (inactive, export-only, ineligible
    /// organization); `-infinity` once it may and has no time yet (the tick gives it one, spread over an
    /// interval); else when it is due. A row is added with every new connection and removed with it.
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
            """
            INSERT INTO connection_schedules (connection_id, next_import_at, last_full_resync_at)
            SELECT id, next_import_at, last_full_resync_at FROM calendar_connections
            """,
            "CREATE INDEX connection_schedules_due_idx ON connection_schedules (next_import_at) WHERE next_import_at IS NOT NULL",
            """
            CREATE FUNCTION calsync_add_connection_schedules() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO connection_schedules (connection_id) SELECT id FROM added ON CONFLICT DO NOTHING;
                RETURN NULL;
            END
            $$
            """,
            """
            CREATE TRIGGER calendar_connections_add_schedules AFTER INSERT ON calendar_connections
            REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION calsync_add_connection_schedules()
            """,
            "DROP INDEX calendar_connections_next_import_idx",
            "ALTER TABLE calendar_connections DROP COLUMN next_import_at, DROP COLUMN last_full_resync_at",
        ]
    )
}
