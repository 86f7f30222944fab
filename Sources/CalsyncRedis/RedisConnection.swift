import CHiredis
import Foundation
import Synchronization

/// One hiredis connection. It owns its `redisContext*`; the pool hands it to one caller at a time,
/// and every call on it runs on the client's NIOThreadPool (blocking I/O), never the cooperative pool.
final class RedisConnection: Sendable {
    private struct State: ~Copyable {
        var context: UnsafeMutablePointer<redisContext>?
        var consecutiveFailures = 0
        var nextAttemptAt: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    private let configuration: RedisConfiguration

    init(configuration: RedisConfiguration) {
        self.configuration = configuration
    }

    deinit {
        state.withLock { state in
            if let context = state.context { redisFree(context) }
            state.context = nil
        }
    }

    /// Frees the context; the next command reconnects.
    func drop() {
        state.withLock { state in
            if let context = state.context { redisFree(context) }
            state.context = nil
        }
    }

    /// Sends one command (binary-safe) and reads its reply. Blocking: call on the thread pool.
    func command(_ args: [[UInt8]]) throws -> RedisValue {
        try state.withLock { state throws(RedisError) -> RedisValue in
            let context = try connected(&state)
            let reply: UnsafeMutableRawPointer? = Self.withArgv(args) { argc, argv, lengths in
                redisCommandArgv(context, argc, argv, lengths)
            }
            guard let reply else {
                let error = Self.contextError(context)
                redisFree(context)
                state.context = nil
                throw error
            }
            defer { freeReplyObject(reply) }
            let value = Self.convert(reply.assumingMemoryBound(to: redisReply.self))
            if case .error(let message) = value { throw RedisError.serverError(message) }
            return value
        }
    }

    /// Appends every command, then reads as many replies; error replies are returned as `.error`. When the
    /// connection fails on the way, the replies read before come back with the failure (those commands ran;
    /// what became of the rest is unknown) and the connection is dropped.
    func pipeline(_ commands: [[[UInt8]]]) -> (replies: [RedisValue], failure: RedisError?) {
        state.withLock { state -> ([RedisValue], RedisError?) in
            let context: UnsafeMutablePointer<redisContext>
            do {
                context = try connected(&state)
            } catch let error as RedisError {
                return ([], error)
            } catch {
                return ([], RedisError.connectionFailed("\(error)"))
            }
            for args in commands {
                let status = Self.withArgv(args) { argc, argv, lengths in
                    redisAppendCommandArgv(context, argc, argv, lengths)
                }
                if status != REDIS_OK {
                    let error = Self.contextError(context)
                    redisFree(context)
                    state.context = nil
                    return ([], error)
                }
            }
            var values: [RedisValue] = []
            values.reserveCapacity(commands.count)
            for _ in commands {
                var reply: UnsafeMutableRawPointer?
                if redisGetReply(context, &reply) != REDIS_OK || reply == nil {
                    let error = Self.contextError(context)
                    redisFree(context)
                    state.context = nil
                    return (values, error)
                }
                if let reply {
                    values.append(Self.convert(reply.assumingMemoryBound(to: redisReply.self)))
                    freeReplyObject(reply)
                }
            }
            return (values, nil)
        }
    }

    // MARK: - Connecting

    private func connected(_ state: inout State) throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        if let context = state.context {
            if Self.peerClosed(context) {
                // Redis closed this pooled connection while it was idle (a restart, CLIENT KILL, a timeout):
                // the command goes on a fresh connection instead of failing; only a failure there is an error.
                redisFree(context)
                state.context = nil
            } else {
                return context
            }
        }
        let now = ContinuousClock.now
        if let next = state.nextAttemptAt, now < next {
            throw RedisError.connectionFailed(
                "cannot connect to Redis at \(configuration.host):\(configuration.port) (waiting before the next attempt); check that Redis runs and CALSYNC_REDIS_URL"
            )
        }
        do {
            let context = try connect()
            state.context = context
            state.consecutiveFailures = 0
            state.nextAttemptAt = nil
            return context
        } catch {
            state.consecutiveFailures += 1
            // Capped backoff between attempts of this connection: 50 ms · 2^(n-1), at most 2 s.
            let exponent = min(state.consecutiveFailures - 1, 6)
            let delayMs = min(2_000, 50 * (1 << exponent))
            state.nextAttemptAt = now + .milliseconds(delayMs)
            throw error
        }
    }

    private func connect() throws(RedisError) -> UnsafeMutablePointer<redisContext> {
        let where_ = "\(configuration.host):\(configuration.port)"
        guard let context = redisConnectWithTimeout(configuration.host, Int32(configuration.port), Self.timeval(configuration.connectTimeout)) else {
            throw RedisError.connectionFailed("cannot allocate a Redis context for \(where_)")
        }
        if context.pointee.err != 0 {
            let message = Self.errorString(context)
            redisFree(context)
            throw RedisError.connectionFailed(
                "cannot connect to Redis at \(where_): \(message); check that Redis runs and CALSYNC_REDIS_URL")
        }
        _ = redisSetTimeout(context, Self.timeval(configuration.commandTimeout))
        func setup(_ args: [String]) throws(RedisError) {
            let reply: UnsafeMutableRawPointer? = Self.withArgv(args.map { Array($0.utf8) }) { argc, argv, lengths in
                redisCommandArgv(context, argc, argv, lengths)
            }
            guard let reply else {
                let error = Self.contextError(context)
                redisFree(context)
                throw error
            }
            let value = Self.convert(reply.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(reply)
            if case .error(let message) = value {
                redisFree(context)
                throw RedisError.connectionFailed(
                    "Redis at \(where_) refused \(args[0]): \(message); check the user, password and database in CALSYNC_REDIS_URL")
            }
        }
        if let password = configuration.password {
            if let username = configuration.username { try setup(["AUTH", username, password]) } else { try setup(["AUTH", password]) }
        }
        if configuration.database != 0 { try setup(["SELECT", String(configuration.database)]) }
        return context
    }

    // MARK: - C helpers

    /// Whether the server closed an idle connection: its socket reads end-of-file (or fails) at once, or
    /// holds bytes nobody asked for. A non-blocking peek, so a live connection costs one system call.
    private static func peerClosed(_ context: UnsafeMutablePointer<redisContext>) -> Bool {
        var byte: UInt8 = 0
        let received = recv(context.pointee.fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if received < 0 { return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR }
        return true
    }

    private static func timeval(_ duration: Duration) -> timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }

    private static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            let bytes = raw.prefix(while: { $0 != 0 })
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    private static func contextError(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        let message = errorString(context)
        switch context.pointee.err {
        case REDIS_ERR_IO:
            let lowered = message.lowercased()
            if lowered.contains("temporarily unavailable") || lowered.contains("timed out") || lowered.contains("timeout") {
                return .timeout("Redis did not answer within the command timeout (\(message))")
            }
            return .connectionFailed("I/O error talking to Redis: \(message)")
        case REDIS_ERR_EOF:
            return .connectionFailed("Redis closed the connection: \(message)")
        case REDIS_ERR_PROTOCOL:
            return .protocolError("Redis protocol error: \(message)")
        default:
            return .connectionFailed("Redis error: \(message)")
        }
    }

    /// Calls `body` with argc, argv and argvlen pointing into one contiguous copy of `args`.
    private static func withArgv<R>(
        _ args: [[UInt8]],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(args.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        var lengths: [Int] = []
        offsets.reserveCapacity(args.count)
        lengths.reserveCapacity(args.count)
        for arg in args {
            offsets.append(buffer.count)
            lengths.append(arg.count)
            buffer.append(contentsOf: arg)
        }
        buffer.append(0)  // never empty, so the base address exists
        return buffer.withUnsafeBufferPointer { bytes in
            let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { base + $0 }
            return argv.withUnsafeMutableBufferPointer { argvBuffer in
                lengths.withUnsafeBufferPointer { lengthBuffer in
                    body(Int32(args.count), argvBuffer.baseAddress!, lengthBuffer.baseAddress!)
                }
            }
        }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            guard let str = r.str else { return .bulk([]) }
            return .bulk(Array(UnsafeRawBufferPointer(start: str, count: r.len)))
        case REDIS_REPLY_STATUS:
            guard let str = r.str else { return .status("") }
            return .status(String(decoding: UnsafeRawBufferPointer(start: str, count: r.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            guard let str = r.str else { return .error("") }
            return .error(String(decoding: UnsafeRawBufferPointer(start: str, count: r.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(r.integer))
        case REDIS_REPLY_ARRAY:
            guard let elements = r.element else { return .array([]) }
            var values: [RedisValue] = []
            values.reserveCapacity(r.elements)
            for index in 0..<r.elements {
                if let element = elements[index] { values.append(convert(element)) } else { values.append(.null) }
            }
            return .array(values)
        default:
            return .null
        }
    }
}
