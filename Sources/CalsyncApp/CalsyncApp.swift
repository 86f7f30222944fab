// CalsyncApp owns the assembly of a calsync process: configuration (CALSYNC_* variables and the
// config file), logging and metrics bootstrap, the metrics endpoint, and the wiring of clients,
// queue, handlers, worker and scheduler into one ServiceGroup, plus the operations behind the CLI
// commands. It only reads configuration and wires services: it must not contain sync rules, SQL,
// Redis scripts, the scheduler's loop or queue internals (those live in their targets), nor
// argument parsing (the `calsync` executable owns that).
import Foundation

/// An error a CLI command reports: one line for the operator and the process exit code.
package struct CalsyncAppError: Error, Sendable, CustomStringConvertible {
    /// Stable code, e.g. `config`, `unavailable`, `failed`, `usage`.
    package var code: Code
    /// One line that says what happened and what to do (no passwords).
    package var message: String
    /// The exit status: 1 failed, 64 usage, 69 service unavailable, 78 configuration.
    package var exitCode: Int32

    /// Creates an error.
    package init(code: Code, message: String, exitCode: Int32) {
        self.code = code
        self.message = message
        self.exitCode = exitCode
    }

    /// A configuration problem (exit 78, EX_CONFIG).
    package static func config(_ error: ConfigurationError) -> CalsyncAppError {
        CalsyncAppError(code: .config, message: error.message, exitCode: 78)
    }

    /// Redis or PostgreSQL unreachable (exit 69, EX_UNAVAILABLE).
    package static func unavailable(_ message: String) -> CalsyncAppError {
        CalsyncAppError(code: .unavailable, message: "calsync: " + message, exitCode: 69)
    }

    /// The operation failed (exit 1).
    package static func failed(_ message: String) -> CalsyncAppError {
        CalsyncAppError(code: .failed, message: "calsync: " + message, exitCode: 1)
    }

    /// Bad arguments (exit 64, EX_USAGE).
    package static func usage(_ message: String) -> CalsyncAppError {
        CalsyncAppError(code: .usage, message: "calsync: " + message, exitCode: 64)
    }

    package var description: String { message }
}
