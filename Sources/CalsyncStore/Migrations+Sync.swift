extension Migrations {
    /// 2: what the sync rules keep: export mappings, parked changes, busy-read cursors, token expiry.
    static let v2Sync = Migration(
        version: 2,
        name: "sync_state",
        statements: [
            "ALTER TABLE calendar_connections ADD COLUMN access_token_expires_at timestamptz",
            """
            CREATE TABLE appointment_exports (
                member_id text NOT NULL REFERENCES members (id) ON DELETE CASCADE,
                appointment_id text NOT NULL,
                applied_revision bigint NOT NULL,
                connection_id uuid REFERENCES calendar_connections (id) ON DELETE SET NULL,
                calendar_id text,
                external_event_id text,
                content_hash text,
                event_present boolean NOT NULL DEFAULT false,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (member_id, appointment_id)
            )
            """,
            """
            CREATE TABLE parked_changes (
                member_id text NOT NULL REFERENCES members (id) ON DELETE CASCADE,
                appointment_id text NOT NULL,
                revision bigint NOT NULL,
                kind text NOT NULL CHECK (kind IN ('export', 'delete')),
                payload text NOT NULL,
                ends_at timestamptz,
                reason text NOT NULL,
                parked_at timestamptz NOT NULL DEFAULT now(),
                replay_enqueued_at timestamptz,
                PRIMARY KEY (member_id, appointment_id)
            )
            """,
            """
            CREATE TABLE busy_sync_cursors (
                connection_id uuid NOT NULL REFERENCES calendar_connections (id) ON DELETE CASCADE,
                calendar_id text NOT NULL,
                cursor text NOT NULL,
                updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (connection_id, calendar_id)
            )
            """,
            "CREATE INDEX external_busy_blocks_connection_calendar_idx ON external_busy_blocks (connection_id, calendar_id)",
        ]
    )
}
