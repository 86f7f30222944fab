// CalsyncRedis owns the Redis connection layer: a small pool of hiredis (0.14) connections whose
// blocking calls run on a NIOThreadPool, binary-safe commands, pipelines and EVALSHA scripts.
// It must not depend on the job engine, the sync rules, or anything calsync-specific.
import Logging
import NIOPosix
import Synchronization

/// A Redis client: a small pool of hiredis connections, blocking calls run on a `NIOThreadPool`.
public final class RedisClient: Sendable {
    private struct PoolState: ~Copyable {
        var idle: [RedisConnection] = []
        var created = 0
        var waiters: [CheckedContinuation<RedisConnection, any Error>] = []
        var closed = false
    }

    /// The configuration this client was made with.
    public let configuration: RedisConfiguration
    private let logger: Logger
    private let poolSize: Int
    private let threadPool: NIOThreadPool
    private let pool = Mutex(PoolState())

    /// Creates a client; connections are opened lazily, at most `poolSize` of them.
    public init(configuration: RedisConfiguration, logger: Logger, poolSize: Int = 8) {
        self.configuration = configuration
        self.logger = logger
        self.poolSize = max(1, poolSize)
        self.threadPool = NIOThreadPool(numberOfThreads: self.poolSize)
        self.threadPool.start()
    }

    deinit {
        threadPool.shutdownGracefully { _ in }
    }

    /// Sends one command of text arguments; a `-ERR` reply throws `server_error`.
    public func send(_ args: [String]) async throws -> RedisValue {
        try await send(bytes: args.map { Array($0.utf8) })
    }

    /// Sends one command of binary arguments (binary-safe); a `-ERR` reply throws `server_error`.
    public func send(bytes args: [[UInt8]]) async throws -> RedisValue {
        try await withConnection { connection in try connection.command(args) }
    }

    /// Sends the commands in one pipeline; error replies come back as `.error` in place.
    public func pipeline(_ commands: [[String]]) async throws -> [RedisValue] {
        if commands.isEmpty { return [] }
        let encoded = commands.map { $0.map { Array($0.utf8) } }
        return try await withConnection { connection in try connection.pipeline(encoded) }
    }

    /// Runs a script with EVALSHA; on NOSCRIPT it loads the script and retries once.
    public func evaluate(_ script: RedisScript, keys: [String], args: [String]) async throws -> RedisValue {
        try await evaluate(script, keys: keys, byteArgs: args.map { Array($0.utf8) })
    }

    /// Runs a script with binary-safe arguments (EVALSHA, loading it after NOSCRIPT).
    public func evaluate(_ script: RedisScript, keys: [String], byteArgs args: [[UInt8]]) async throws -> RedisValue {
        var command: [[UInt8]] = [Array("EVALSHA".utf8), Array(script.sha1.utf8), Array(String(keys.count).utf8)]
        command.reserveCapacity(3 + keys.count + args.count)
        for key in keys { command.append(Array(key.utf8)) }
        command.append(contentsOf: args)
        let finalCommand = command
        return try await withConnection { connection in
            do {
                return try connection.command(finalCommand)
            } catch let error as RedisError where Self.isNoScript(error) {
                _ = try connection.command([Array("SCRIPT".utf8), Array("LOAD".utf8), Array(script.source.utf8)])
                do {
                    return try connection.command(finalCommand)
                } catch let again as RedisError where Self.isNoScript(again) {
                    // Someone flushed the script cache between LOAD and EVALSHA: EVAL runs and caches it at once.
                    var eval = finalCommand
                    eval[0] = Array("EVAL".utf8)
                    eval[1] = Array(script.source.utf8)
                    return try connection.command(eval)
                }
            }
        }
    }

    private static func isNoScript(_ error: RedisError) -> Bool {
        error.code == .serverError && error.message.hasPrefix("NOSCRIPT")
    }

    /// Closes every connection and stops the thread pool; later commands throw `closed`.
    public func close() {
        let (idle, waiters) = pool.withLock { state -> ([RedisConnection], [CheckedContinuation<RedisConnection, any Error>]) in
            state.closed = true
            let result = (state.idle, state.waiters)
            state.idle = []
            state.waiters = []
            return result
        }
        for waiter in waiters { waiter.resume(throwing: RedisError.closed) }
        for connection in idle { connection.drop() }
        threadPool.shutdownGracefully { _ in }
    }

    // MARK: - Pool

    private func withConnection<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws -> T) async throws -> T {
        let connection = try await acquire()
        do {
            let result = try await threadPool.runIfActive { try body(connection) }
            release(connection)
            return result
        } catch let error as RedisError {
            release(connection)
            if error.code == .connectionFailed || error.code == .timeout {
                // The key is LogKey.errorCode's, which lives above this driver.
                logger.debug("redis command failed", metadata: ["calsync.error.code": "\(error.code)"])
            }
            throw error
        } catch {
            release(connection)
            if error is NIOThreadPoolError.ThreadPoolInactive { throw RedisError.closed }
            throw error
        }
    }

    private func acquire() async throws -> RedisConnection {
        let configuration = self.configuration
        let immediate: RedisConnection? = try pool.withLock { state throws -> RedisConnection? in
            if state.closed { throw RedisError.closed }
            if let connection = state.idle.popLast() { return connection }
            if state.created < poolSize {
                state.created += 1
                return RedisConnection(configuration: configuration)
            }
            return nil
        }
        if let immediate { return immediate }
        return try await withCheckedThrowingContinuation { continuation in
            let outcome: RedisConnection?? = pool.withLock { state in
                if state.closed { return .some(nil) }
                if let connection = state.idle.popLast() { return .some(connection) }
                state.waiters.append(continuation)
                return .none
            }
            switch outcome {
            case .some(.some(let connection)): continuation.resume(returning: connection)
            case .some(.none): continuation.resume(throwing: RedisError.closed)
            case .none: break
            }
        }
    }

    private func release(_ connection: RedisConnection) {
        let waiter: CheckedContinuation<RedisConnection, any Error>? = pool.withLock { state in
            if state.closed { return nil }
            if !state.waiters.isEmpty { return state.waiters.removeFirst() }
            state.idle.append(connection)
            return nil
        }
        if let waiter {
            waiter.resume(returning: connection)
        } else if pool.withLock({ $0.closed }) {
            connection.drop()
        }
    }
}
