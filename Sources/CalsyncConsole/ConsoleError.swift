/// An error of the console, with a stable `code`; its message never holds a secret.
package struct ConsoleError: Error, Sendable, CustomStringConvertible {
    /// A console error's stable code.
    package struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The code's text.
        package let rawValue: String
        /// A code from its text.
        package init(_ rawValue: String) { self.rawValue = rawValue }
        /// The code's text.
        package var description: String { rawValue }

        /// `no_password_hash`: `CALSYNC_CONSOLE_PASSWORD_HASH` is unset or not a bcrypt hash.
        package static let noPasswordHash = Code("no_password_hash")
        /// `bad_request`: A form or query the console cannot use.
        package static let badRequest = Code("bad_request")
        /// `not_found`: No such dead job or connection.
        package static let notFound = Code("not_found")
    }

    /// The code.
    package var code: Code
    /// What went wrong and what to do.
    package var message: String

    /// Creates an error.
    package init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    package var description: String { "\(code): \(message)" }
}
