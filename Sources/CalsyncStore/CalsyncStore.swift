// CalsyncStore owns PostgreSQL: the connection settings, the client as a Service with a
// start-up connectivity check, the versioned schema migrations, and (later) the stores behind
// CalsyncSync's protocols. It must not depend on Redis, the queue engine, HTTP or the CLI.
import Logging
import PostgresNIO

/// An error of the PostgreSQL layer: a stable `code` (safe as a metric label) and a message that says what to do.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    /// Stable machine-readable code, e.g. `invalid_url`, `unreachable`, `migration_failed`.
    public var code: String
    /// What happened and what to do about it (never contains a password).
    public var message: String

    /// Creates an error from its code and message.
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    /// The database URL could not be parsed.
    public static func invalidURL(_ message: String) -> StoreError {
        StoreError(code: "invalid_url", message: message)
    }

    /// The server could not be reached, or refused us, within the start-up timeout.
    public static func unreachable(_ message: String) -> StoreError {
        StoreError(code: "unreachable", message: message)
    }

    /// A migration failed; the transaction was rolled back.
    public static func migrationFailed(_ message: String) -> StoreError {
        StoreError(code: "migration_failed", message: message)
    }

    /// The database holds a migration whose recorded checksum differs from the one in this binary.
    public static func migrationChanged(_ message: String) -> StoreError {
        StoreError(code: "migration_changed", message: message)
    }

    public var description: String { "store error \(code): \(message)" }
}
