extension Migrations {
    /// 6: the rules every statement shares, defined once as SQL functions the planner inlines (so each
    /// statement keeps its plan): an organization's eligibility (contract §4) and the guard that offers a
    /// parked change for replay again only when its last replay was enqueued over 5 minutes ago. The view
    /// `member_busy_intervals` keeps its columns and rows; it now names the rule instead of repeating it.
    static let v6Eligibility = Migration(
        version: 6,
        name: "eligibility_rules",
        statements: [
            """
            CREATE FUNCTION calsync_organization_eligible(sync_enabled boolean, plan text) RETURNS boolean
            LANGUAGE sql IMMUTABLE PARALLEL SAFE
            AS $$ SELECT sync_enabled AND plan IN ('pro', 'advanced') $$
            """,
            """
            CREATE FUNCTION calsync_parked_replay_due(replay_enqueued_at timestamptz) RETURNS boolean
            LANGUAGE sql STABLE PARALLEL SAFE
            AS $$ SELECT replay_enqueued_at IS NULL OR replay_enqueued_at < now() - interval '5 minutes' $$
            """,
            """
            CREATE OR REPLACE VIEW member_busy_intervals AS
            SELECT b.member_id, b.starts_at, b.ends_at
            FROM external_busy_blocks b
            JOIN calendar_connections c ON c.id = b.connection_id AND c.member_id = b.member_id
            JOIN members m ON m.id = b.member_id
            JOIN organizations o ON o.id = m.organization_id
            WHERE calsync_organization_eligible(o.external_calendar_sync_enabled, o.plan)
              AND c.status <> 'disconnected'
            """,
        ]
    )
}
