extension CalsyncAppError {
    /// A CLI command's failure class, as a stable code.
    ///
    /// Codes are compared as values (`error.code == .config`), never as strings; the text never changes.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text, e.g. in a dead record or a metric label.
        package let rawValue: String

        /// A code from its text (a code passed on from another layer keeps its text).
        package init(_ rawValue: String) { self.rawValue = rawValue }

        /// The code's text.
        package var description: String { rawValue }

        /// `config`: A configuration problem (exit 78).
        package static let config = Code("config")

        /// `failed`: The operation failed (exit 1).
        package static let failed = Code("failed")

        /// `unavailable`: Redis or PostgreSQL is unreachable (exit 69).
        package static let unavailable = Code("unavailable")

        /// `usage`: Bad arguments (exit 64).
        package static let usage = Code("usage")
    }
}
