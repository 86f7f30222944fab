extension Migrations {
    /// 14: the outbox of two-way changes and video links (contract §8, §9): a change or join URL recorded but not
    /// yet published is published by the member's next import. Rows recorded before count as published.
    static let v14Outbox = Migration(
        version: 14,
        name: "two_way_outbox",
        statements: [
            "ALTER TABLE external_changes ADD COLUMN published_at timestamptz",
            "UPDATE external_changes SET published_at = detected_at",
            """
            CREATE INDEX external_changes_unpublished_idx ON external_changes (member_id, id) WHERE published_at IS NULL
            """,
            "ALTER TABLE appointment_exports ADD COLUMN video_published_url text",
            "UPDATE appointment_exports SET video_published_url = video_url WHERE video_url IS NOT NULL",
        ]
    )
}
