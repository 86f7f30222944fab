extension StoreError {
    /// A PostgreSQL-layer failure's stable code, safe as a metric label.
    ///
    /// Codes are compared as values (`error.code == .idleInTransactionTimeout`), never as strings; the text never changes.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        package let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        package var description: String { rawValue }

        /// `idle_in_transaction_timeout`: PostgreSQL ended a session whose transaction sat idle too long.
        package static let idleInTransactionTimeout = Code("idle_in_transaction_timeout")

        /// `invalid_url`: The URL is malformed.
        package static let invalidUrl = Code("invalid_url")

        /// `lock_timeout`: A statement waited for a lock longer than the lock timeout.
        package static let lockTimeout = Code("lock_timeout")

        /// `migration_changed`: An applied migration differs from the one in this binary.
        package static let migrationChanged = Code("migration_changed")

        /// `migration_failed`: A migration failed and was rolled back.
        package static let migrationFailed = Code("migration_failed")

        /// `statement_timeout`: A statement ran longer than the statement timeout.
        package static let statementTimeout = Code("statement_timeout")

        /// `unreachable`: PostgreSQL could not be reached within the start-up timeout.
        package static let unreachable = Code("unreachable")

        /// `write_failed`: A write returned no row.
        package static let writeFailed = Code("write_failed")
    }
}
