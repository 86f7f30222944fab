extension Migrations {
    /// 7: the event's version as the provider last answered calsync (Google `etag`, Graph `@odata.etag`), so
    /// that the next update or delete is conditional on it (`If-Match`).
    static let v7ConditionalWrites = Migration(
        version: 7,
        name: "conditional_writes",
        statements: [
            "ALTER TABLE appointment_exports ADD COLUMN etag text",
        ]
    )
}
