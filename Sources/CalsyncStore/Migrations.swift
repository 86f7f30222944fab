/// The schema of calsync, as an ordered list of migrations. Append new ones; never edit an applied one.
package enum Migrations {
    /// Every migration, in version order.
    package static let all: [Migration] = [
        v1Initial,
        v2Sync,
        v3Scheduler,
        v4ForeignKeyIndexes,
        v5FencedWrites,
        v6Eligibility,
        v7ConditionalWrites,
        v9Push,
        v10TwoWay,
        v14Outbox,
        v15PushDelivery,
        v16Schedules,
        v17ScheduleWalk,
    ]

    /// 1: what the web tier and the availability engine see (contract §3).
    static let v1Initial = Migration(
        version: 1,
        name: "initial",
        statements: [
            """
            CREATE TABLE organizations (
                id text PRIMARY KEY,
                plan text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'pro', 'advanced')),
                external_calendar_sync_enabled boolean NOT NULL DEFAULT false,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE members (
                id text PRIMARY KEY,
                organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
                time_zone text NOT NULL DEFAULT 'UTC',
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now()
            )
            """,
            "CREATE INDEX members_organization_id_idx ON members (organization_id)",
            """
            CREATE TABLE calendar_connections (
                id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
                member_id text NOT NULL REFERENCES members (id) ON DELETE CASCADE,
                provider text NOT NULL CHECK (provider IN ('google', 'microsoft', 'caldav')),
                account_email text,
                status text NOT NULL DEFAULT 'active'
                    CHECK (status IN ('active', 'reconnect_required', 'disconnected')),
                status_detail text,
                export_calendar_id text,
                busy_calendar_ids text[] NOT NULL DEFAULT '{}',
                sync_direction text NOT NULL DEFAULT 'both'
                    CHECK (sync_direction IN ('both', 'outbound', 'inbound')),
                event_details text NOT NULL DEFAULT 'private'
                    CHECK (event_details IN ('private', 'full', 'busy')),
                credentials_sealed bytea,
                credentials_key_id text,
                last_inbound_sync_at timestamptz,
                last_inbound_error text,
                last_outbound_sync_at timestamptz,
                last_outbound_error text,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (member_id, provider)
            )
            """,
            """
            CREATE TABLE external_busy_blocks (
                id bigserial PRIMARY KEY,
                member_id text NOT NULL REFERENCES members (id) ON DELETE CASCADE,
                connection_id uuid NOT NULL REFERENCES calendar_connections (id) ON DELETE CASCADE,
                calendar_id text NOT NULL,
                external_event_id text NOT NULL,
                starts_at timestamptz NOT NULL,
                ends_at timestamptz NOT NULL,
                all_day boolean NOT NULL DEFAULT false,
                updated_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (connection_id, calendar_id, external_event_id)
            )
            """,
            "CREATE INDEX external_busy_blocks_member_starts_idx ON external_busy_blocks (member_id, starts_at)",
            """
            CREATE VIEW member_busy_intervals AS
            SELECT b.member_id, b.starts_at, b.ends_at
            FROM external_busy_blocks b
            JOIN calendar_connections c ON c.id = b.connection_id AND c.member_id = b.member_id
            JOIN members m ON m.id = b.member_id
            JOIN organizations o ON o.id = m.organization_id
            WHERE o.external_calendar_sync_enabled
              AND o.plan IN ('pro', 'advanced')
              AND c.status <> 'disconnected'
            """,
        ]
    )
}
