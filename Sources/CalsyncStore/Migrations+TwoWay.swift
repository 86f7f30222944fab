extension Migrations {
    /// 10: two-way sync and video links (contract §8, §9): the times and payload calsync last wrote for each
    /// export, its video join URL, the connection's `external_changes` mode, and the members' changes found.
    static let v10TwoWay = Migration(
        version: 10,
        name: "two_way",
        statements: [
            """
            ALTER TABLE appointment_exports
                ADD COLUMN written_starts_at timestamptz,
                ADD COLUMN written_ends_at timestamptz,
                ADD COLUMN applied_payload text,
                ADD COLUMN video_url text
            """,
            """
            ALTER TABLE calendar_connections
                ADD COLUMN external_changes text NOT NULL DEFAULT 'notify' CHECK (external_changes IN ('notify', 'restore'))
            """,
            """
            CREATE TABLE external_changes (
                id bigserial PRIMARY KEY,
                member_id text NOT NULL REFERENCES members (id) ON DELETE CASCADE,
                appointment_id text NOT NULL,
                provider text NOT NULL CHECK (provider IN ('google', 'microsoft', 'caldav')),
                applied_revision bigint NOT NULL,
                change text NOT NULL CHECK (change IN ('moved', 'deleted')),
                starts_at timestamptz,
                ends_at timestamptz,
                detected_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            // Each change is reported once: the same state read again finds its row.
            """
            CREATE UNIQUE INDEX external_changes_once_idx
                ON external_changes (member_id, appointment_id, applied_revision, change, starts_at, ends_at) NULLS NOT DISTINCT
            """,
        ]
    )
}
