/// An error of the job engine's own operations (enqueue, admin), with a stable `code`.
public struct QueueError: Error, Sendable, CustomStringConvertible {
    /// `invalid_payload`, `invalid_type`, `unexpected_reply`, `not_retryable`.
    public var code: Code
    /// What went wrong and what to do.
    public var message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }
}
