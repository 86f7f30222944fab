// CalsyncStore owns PostgreSQL: the connection settings, the client as a Service with a
// start-up connectivity check, the versioned schema migrations, and the stores behind
// CalsyncSync's protocols (and the scheduler's reads). It uses CalsyncJobs' batcher only; it must
// not depend on Redis, the queue engine (CalsyncQueue), HTTP or the CLI.
import Logging
import PostgresNIO

/// An error of the PostgreSQL layer: a stable `code` (safe as a metric label) and a message that says what to do.
package struct StoreError: Error, Sendable, CustomStringConvertible {
    /// Stable machine-readable code, e.g. `invalid_url`, `unreachable`, `migration_failed`.
    package var code: Code
    /// What happened and what to do about it (never contains a password).
    package var message: String

    /// Creates an error from its code and message.
    package init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The database URL could not be parsed.
    package static func invalidURL(_ message: String) -> StoreError {
        StoreError(code: .invalidUrl, message: message)
    }

    /// The server could not be reached, or refused us, within the start-up timeout.
    package static func unreachable(_ message: String) -> StoreError {
        StoreError(code: .unreachable, message: message)
    }

    /// A migration failed; the transaction was rolled back.
    package static func migrationFailed(_ message: String) -> StoreError {
        StoreError(code: .migrationFailed, message: message)
    }

    /// The database holds a migration whose recorded checksum differs from the one in this binary.
    package static func migrationChanged(_ message: String) -> StoreError {
        StoreError(code: .migrationChanged, message: message)
    }

    package var description: String { "store error \(code): \(message)" }

    /// `error` as a `StoreError` when PostgreSQL ended a statement at one of calsync's limits
    /// (`statement_timeout`, `lock_timeout`, `idle_in_transaction_timeout`); otherwise `error` itself.
    package static func translating(_ error: any Error) -> any Error {
        if let transaction = error as? PostgresTransactionError, let closureError = transaction.closureError {
            return translating(closureError)
        }
        guard let psql = error as? PSQLError, let state = psql.serverInfo?[.sqlState] else { return error }
        let advice = "calsync retries it (a job is retried, a scheduler tick runs again); if it keeps happening, "
            + "look for long transactions and lock holders in pg_stat_activity, or raise the limit"
        switch state {
        case "57014" where psql.serverInfo?[.message]?.contains("statement timeout") == true:
            return StoreError(
                code: .statementTimeout,
                message: "PostgreSQL cancelled a statement that ran longer than CALSYNC_DATABASE_STATEMENT_TIMEOUT_MS: " + advice)
        case "55P03":
            return StoreError(
                code: .lockTimeout,
                message: "PostgreSQL cancelled a statement that waited for a lock longer than CALSYNC_DATABASE_LOCK_TIMEOUT_MS "
                    + "(another session holds the row or table): " + advice)
        case "25P03":
            return StoreError(
                code: .idleInTransactionTimeout,
                message: "PostgreSQL ended a session whose transaction sat idle longer than "
                    + "CALSYNC_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: " + advice)
        default:
            return error
        }
    }

    /// Whether this is one of the timeouts of `translating`: the statement was cut short, not refused.
    package var isTimeout: Bool {
        [.statementTimeout, .lockTimeout, .idleInTransactionTimeout].contains(code)
    }
}
