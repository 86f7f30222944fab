/// One reply of the Redis server (RESP2).
package enum RedisValue: Sendable, Equatable {
    /// A nil bulk or nil array.
    case null
    /// A status reply such as `OK`.
    case status(String)
    /// An error reply (returned only inside pipelines; elsewhere it is thrown as `server_error`).
    case error(String)
    /// An integer reply.
    case integer(Int)
    /// A bulk string, binary-safe.
    case bulk([UInt8])
    /// An array reply.
    case array([RedisValue])

    /// The text of a bulk or status reply (lossy UTF-8), else nil.
    package var string: String? {
        switch self {
        case .bulk(let bytes): return String(decoding: bytes, as: UTF8.self)
        case .status(let text): return text
        default: return nil
        }
    }

    /// The integer of an integer reply, or of a bulk/status reply holding a decimal number.
    package var int: Int? {
        switch self {
        case .integer(let value): return value
        case .bulk, .status: return string.flatMap { Int($0) }
        default: return nil
        }
    }

    /// The elements of an array reply, else nil.
    package var array: [RedisValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    /// The bytes of a bulk reply (or the UTF-8 of a status reply), else nil.
    package var bytes: [UInt8]? {
        switch self {
        case .bulk(let bytes): return bytes
        case .status(let text): return Array(text.utf8)
        default: return nil
        }
    }

    /// True for `.null`.
    package var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}
