/// An error of the job engine's own operations (enqueue, admin), with a stable `code`.
package struct QueueError: Error, Sendable, CustomStringConvertible {
    /// `invalid_payload`, `invalid_type`, `unexpected_reply`, `not_retryable`.
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
