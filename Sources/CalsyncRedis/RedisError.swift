/// An error of the Redis layer, with a stable `code` safe for metric labels.
package struct RedisError: Error, Sendable, CustomStringConvertible {
    /// The stable code: `connection_failed`, `timeout`, `server_error`, `protocol`, `invalid_url`, `closed`.
    package var code: Code
    /// What went wrong and what to do about it.
    package var message: String

    /// Creates an error with a code and a message.
    package init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The server could not be reached or the connection broke.
    package static func connectionFailed(_ message: String) -> RedisError {
        RedisError(code: .connectionFailed, message: message)
    }

    /// The server did not answer within the command timeout.
    package static func timeout(_ message: String) -> RedisError {
        RedisError(code: .timeout, message: message)
    }

    /// The server answered a command with an error reply (`-ERR …`).
    package static func serverError(_ message: String) -> RedisError {
        RedisError(code: .serverError, message: message)
    }

    /// The reply could not be understood.
    package static func protocolError(_ message: String) -> RedisError {
        RedisError(code: .`protocol`, message: message)
    }

    /// `CALSYNC_REDIS_URL` (or the URL given) is malformed.
    package static func invalidURL(_ message: String) -> RedisError {
        RedisError(code: .invalidUrl, message: message)
    }

    /// The client was closed.
    package static let closed = RedisError(code: .closed, message: "the Redis client was closed; create a new one")

    /// `redis error <code>: <message>`.
    package var description: String { "redis error \(code): \(message)" }
}
