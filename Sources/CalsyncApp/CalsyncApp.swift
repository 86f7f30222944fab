// CalsyncApp owns the assembly of a calsync process: configuration (CALSYNC_* variables and the
// config file), logging and metrics bootstrap, the metrics endpoint, and the wiring of clients,
// queue, handlers and worker into one ServiceGroup, plus the operations behind the CLI commands.
// It must not contain sync rules, SQL or queue internals (those live in their targets), nor
// argument parsing (the `calsync` executable owns that).
import Foundation

/// An error a CLI command reports: one line for the operator and the process exit code.
public struct CalsyncAppError: Error, Sendable, CustomStringConvertible {
    /// Stable code, e.g. `config`, `unavailable`, `failed`, `usage`.
    public var code: Code
    /// One line that says what happened and what to do (no passwords).
    public var message: String
    /// The exit status: 1 failed, 64 usage, 69 service unavailable, 78 configuration.
    public var exitCode: Int32

    /// Creates an error.
    public init(code: Code, message: String, exitCode: Int32) {
        self.code = code
        self.message = message
        self.exitCode = exitCode
    }

    /// A configuration problem (exit 78, EX_CONFIG).
    public static func config(_ error: ConfigurationError) -> CalsyncAppError {
        CalsyncAppError(code: .config, message: error.message, exitCode: 78)
    }

    /// Redis or PostgreSQL unreachable (exit 69, EX_UNAVAILABLE).
    public static func unavailable(_ message: String) -> CalsyncAppError {
        CalsyncAppError(code: .unavailable, message: "calsync: " + message, exitCode: 69)
    }

    /// The operation failed (exit 1).
    public static func failed(_ message: String) -> CalsyncAppError {
        CalsyncAppError(code: .failed, message: "calsync: " + message, exitCode: 1)
    }

    /// Bad arguments (exit 64, EX_USAGE).
    public static func usage(_ message: String) -> CalsyncAppError {
        CalsyncAppError(code: .usage, message: "calsync: " + message, exitCode: 64)
    }

    public var description: String { message }
}
