/// An error of the Redis layer, with a stable `code` safe for metric labels.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    /// The stable code: `connection_failed`, `timeout`, `server_error`, `protocol`, `invalid_url`, `closed`.
    public var code: Code
    /// What went wrong and what to do about it.
    public var message: String

    /// Creates an error with a code and a message.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// The server could not be reached or the connection broke.
    public static func connectionFailed(_ message: String) -> RedisError {
        RedisError(code: .connectionFailed, message: message)
    }

    /// The server did not answer within the command timeout.
    public static func timeout(_ message: String) -> RedisError {
        RedisError(code: .timeout, message: message)
    }

    /// The server answered a command with an error reply (`-ERR …`).
    public static func serverError(_ message: String) -> RedisError {
        RedisError(code: .serverError, message: message)
    }

    /// The reply could not be understood.
    public static func protocolError(_ message: String) -> RedisError {
        RedisError(code: .`protocol`, message: message)
    }

    /// `CALSYNC_REDIS_URL` (or the URL given) is malformed.
    public static func invalidURL(_ message: String) -> RedisError {
        RedisError(code: .invalidUrl, message: message)
    }

    /// The client was closed.
    public static let closed = RedisError(code: .closed, message: "the Redis client was closed; create a new one")

    /// `redis error <code>: <message>`.
    public var description: String { "redis error \(code): \(message)" }
}
