extension Migrations {
    /// 15: push delivery tracking (contract §7, fallback). `push_channels.delivered_at` is when the first
    /// trusted message of a channel arrived (Google's `sync`, any notification); a Google channel still
    /// without one some time after it was opened is taken as not delivering (Scheduler+PushDelivery).
    static let v15PushDelivery = Migration(
        version: 15,
        name: "push_delivery",
        statements: [
            "ALTER TABLE push_channels ADD COLUMN delivered_at timestamptz"
        ]
    )
}
