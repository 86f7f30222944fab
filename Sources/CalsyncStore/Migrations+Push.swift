extension Migrations {
    /// 9: push notifications (contract §7). Each connection says whether its changes arrive by push
    /// (`push_status` `active`, `unavailable` or `off`, with `push_detail` a person can act on, the earliest
    /// expiry of its channels, and when the worker last tried); `push_channels` holds the channels calsync
    /// opened (Google: one per watched calendar with its resource id; Graph: the subscription), their secret
    /// only as SHA-256, so that `calsync webhooks` can check a notification without holding any secret.
    static let v9Push = Migration(
        version: 9,
        name: "push_notifications",
        statements: [
            """
            ALTER TABLE calendar_connections ADD COLUMN push_status text NOT NULL DEFAULT 'off'
                CHECK (push_status IN ('active', 'unavailable', 'off'))
            """,
            """
            ALTER TABLE calendar_connections ADD COLUMN push_detail text DEFAULT
                'No push channel is open: changes arrive by polling. Push needs CALSYNC_PUBLIC_URL and applies to Google and Microsoft.'
            """,
            "ALTER TABLE calendar_connections ADD COLUMN push_expires_at timestamptz",
            "ALTER TABLE calendar_connections ADD COLUMN push_checked_at timestamptz",
            """
            CREATE TABLE push_channels (
                channel_id text PRIMARY KEY,
                connection_id uuid NOT NULL REFERENCES calendar_connections (id) ON DELETE CASCADE,
                member_id text NOT NULL,
                provider text NOT NULL CHECK (provider IN ('google', 'microsoft')),
                resource_id text,
                calendar_id text,
                secret_hash text NOT NULL,
                expires_at timestamptz NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX push_channels_connection_idx ON push_channels (connection_id)",
        ]
    )
}
