extension Migrations {
    /// 5: fenced provider writes. A write-ahead record of every provider write that is under way, so that a
    /// newer revision knows when an older request's outcome is unknown (timeout, cancellation, lost answer,
    /// crash) and verifies the event once that request can no longer land; the pending verification; and
    /// the connect job that saved a connection.
    static let v5FencedWrites = Migration(
        version: 5,
        name: "fenced_writes",
        statements: [
            """
            CREATE TABLE export_write_intents (
                member_id text NOT NULL REFERENCES members (id) ON DELETE CASCADE,
                appointment_id text NOT NULL,
                token text NOT NULL,
                revision bigint NOT NULL,
                settles_at timestamptz NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (member_id, appointment_id, token)
            )
            """,
            "ALTER TABLE appointment_exports ADD COLUMN verify_after timestamptz",
            // The connect job that last saved the connection: a rerun of it never redeems its code again.
            "ALTER TABLE calendar_connections ADD COLUMN connected_by_job_id text",
        ]
    )
}
