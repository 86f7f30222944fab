extension Migrations {
    /// 4: an index on every foreign-key column that had none, so deleting a member or a connection
    /// touches only its own rows (without it, each deleted connection scanned all of `appointment_exports`).
    static let v4ForeignKeyIndexes = Migration(
        version: 4,
        name: "foreign_key_indexes",
        statements: [
            "CREATE INDEX appointment_exports_connection_id_idx ON appointment_exports (connection_id)"
        ]
    )
}
