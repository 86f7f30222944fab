extension Migrations {
    /// 3: what the scheduler keeps per connection: when the next import is due, its interval, the
    /// last daily full resync, and (filled by the rate limiter) until when a provider refuses calls.
    static let v3Scheduler = Migration(
        version: 3,
        name: "scheduler",
        statements: [
            "ALTER TABLE calendar_connections ADD COLUMN import_interval_seconds integer CHECK (import_interval_seconds > 0)",
            "ALTER TABLE calendar_connections ADD COLUMN next_import_at timestamptz",
            "ALTER TABLE calendar_connections ADD COLUMN rate_limited_until timestamptz",
            "ALTER TABLE calendar_connections ADD COLUMN last_full_resync_at timestamptz",
            """
            CREATE INDEX calendar_connections_next_import_idx ON calendar_connections (next_import_at NULLS FIRST)
            WHERE status = 'active' AND sync_direction IN ('both', 'inbound')
            """,
            """
            CREATE INDEX calendar_connections_token_expiry_idx ON calendar_connections (access_token_expires_at)
            WHERE status = 'active' AND provider IN ('google', 'microsoft')
            """,
        ]
    )
}
