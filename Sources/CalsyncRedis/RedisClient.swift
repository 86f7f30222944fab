// CalsyncRedis owns the Redis connection layer: a small pool of hiredis (0.14) connections whose
// blocking calls run on a NIOThreadPool that the client (a Service) starts in run(), binary-safe
// commands, pipelines and EVALSHA scripts.
// It must not depend on the job engine, the sync rules, or anything calsync-specific.
import DequeModule
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A Redis client: a small pool of hiredis connections, blocking calls run on a `NIOThreadPool`.
///
/// It is a `Service`: `run()` starts its threads and returns once the client is closed (graceful
/// shutdown, cancellation of `run()`, or `close()`). Commands sent before `run()` starts wait for it;
/// commands after the close throw `closed`. Tools and tests that own a client use ``withRunning(_:)``.
package final class RedisClient: Service, Sendable {
    private enum Lifecycle {
        case notStarted, running, closed
    }

    /// A command waiting for a connection; `id` finds it again when its task is cancelled.
    private struct Waiter {
        let id: Int
        let continuation: CheckedContinuation<RedisConnection, any Error>
    }

    private struct PoolState: ~Copyable {
        var lifecycle = Lifecycle.notStarted
        var threadsStarted = false
        var idle: [RedisConnection] = []
        var created = 0
        var waiters = Deque<Waiter>()
        var nextWaiterID = 0
        /// `run()` calls waiting for the close.
        var runs: [CheckedContinuation<Void, Never>] = []
    }

    /// The configuration this client was made with.
    package let configuration: RedisConfiguration
    private let logger: Logger
    private let poolSize: Int
    private let threadPool: NIOThreadPool
    private let pool = Mutex(PoolState())

    /// Creates a client; nothing starts until `run()`. Connections are opened lazily, at most `poolSize` of them.
    package init(configuration: RedisConfiguration, logger: Logger, poolSize: Int = 8) {
        self.configuration = configuration
        self.logger = logger
        self.poolSize = max(1, poolSize)
        self.threadPool = NIOThreadPool(numberOfThreads: self.poolSize)
    }

    /// Starts the thread pool, serves the commands that waited for it, and returns when the client is
    /// closed: on graceful shutdown, when this task is cancelled, or on `close()`.
    package func run() async throws {
        let configuration = self.configuration
        let served: [(Waiter, RedisConnection)]? = pool.withLock { state in
            guard state.lifecycle == .notStarted else { return nil }
            // Threads first, under the lock: a command that sees `running` finds them, and `close()` never
            // shuts down a pool that is not started yet.
            threadPool.start()
            state.lifecycle = .running
            state.threadsStarted = true
            var served: [(Waiter, RedisConnection)] = []
            while state.created < poolSize, let waiter = state.waiters.popFirst() {
                state.created += 1
                served.append((waiter, RedisConnection(configuration: configuration)))
            }
            return served
        }
        guard let served else {
            if pool.withLock({ $0.lifecycle == .closed }) { return }
            throw RedisError(code: .alreadyRunning, message: "this Redis client is already running: run it once")
        }
        for (waiter, connection) in served { waiter.continuation.resume(returning: connection) }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await untilClosed()
            } onCancel: {
                self.close()
            }
        } onGracefulShutdown: {
            self.close()
        }
    }

    /// Runs the client for the time of `body` (commands, tools and tests that own a client), then closes it.
    package func withRunning<Result: Sendable>(_ body: () async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self, returning: Result.self) { group in
            group.addTask { try await self.run() }
            defer {
                close()
                group.cancelAll()
            }
            return try await body()
        }
    }

    /// Waits until `close()` (at once when it already happened).
    private func untilClosed() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let closed = pool.withLock { state in
                if state.lifecycle == .closed { return true }
                state.runs.append(continuation)
                return false
            }
            if closed { continuation.resume() }
        }
    }

    /// Sends one command of text arguments; a `-ERR` reply throws `server_error`.
    package func send(_ args: [String]) async throws -> RedisValue {
        try await send(bytes: args.map { Array($0.utf8) })
    }

    /// Sends one command of binary arguments (binary-safe); a `-ERR` reply throws `server_error`.
    package func send(bytes args: [[UInt8]]) async throws -> RedisValue {
        try await withConnection { connection in try connection.command(args) }
    }

    /// Sends the commands in one pipeline; error replies come back as `.error` in place.
    package func pipeline(_ commands: [[String]]) async throws -> [RedisValue] {
        if commands.isEmpty { return [] }
        let encoded = commands.map { $0.map { Array($0.utf8) } }
        return try await withConnection { connection in try connection.pipeline(encoded) }
    }

    /// Runs a script with EVALSHA; on NOSCRIPT it loads the script and retries once.
    package func evaluate(_ script: RedisScript, keys: [String], args: [String]) async throws -> RedisValue {
        try await evaluate(script, keys: keys, byteArgs: args.map { Array($0.utf8) })
    }

    /// Runs a script with binary-safe arguments (EVALSHA, loading it after NOSCRIPT).
    package func evaluate(_ script: RedisScript, keys: [String], byteArgs args: [[UInt8]]) async throws -> RedisValue {
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

    /// Closes every connection and stops the thread pool; waiting and later commands throw `closed`, and
    /// `run()` returns. Graceful shutdown calls it; calling it again does nothing.
    package func close() {
        let closing = pool.withLock { state -> (idle: [RedisConnection], waiters: Deque<Waiter>, runs: [CheckedContinuation<Void, Never>], threads: Bool)? in
            guard state.lifecycle != .closed else { return nil }
            state.lifecycle = .closed
            defer {
                state.idle = []
                state.waiters = []
                state.runs = []
            }
            return (state.idle, state.waiters, state.runs, state.threadsStarted)
        }
        guard let closing else { return }
        for waiter in closing.waiters { waiter.continuation.resume(throwing: RedisError.closed) }
        for connection in closing.idle { connection.drop() }
        if closing.threads { threadPool.shutdownGracefully { _ in } }
        for run in closing.runs { run.resume() }
    }

    /// Commands waiting for a connection now (tests observe it).
    package var waitingCommands: Int { pool.withLock { $0.waiters.count } }

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

    /// An idle or new connection; waits (cancellably, in order) while all are busy or `run()` has not started.
    private func acquire() async throws -> RedisConnection {
        let configuration = self.configuration
        let id = pool.withLock { state in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<RedisConnection, any Error>) in
                let outcome: Result<RedisConnection, any Error>? = pool.withLock { state in
                    if state.lifecycle == .closed { return .failure(RedisError.closed) }
                    // Under the lock: a cancellation that already ran its handler is seen here.
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.lifecycle == .running {
                        if let connection = state.idle.popLast() { return .success(connection) }
                        if state.created < poolSize {
                            state.created += 1
                            return .success(RedisConnection(configuration: configuration))
                        }
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let waiter: Waiter? = pool.withLock { state in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    private func release(_ connection: RedisConnection) {
        let waiter: Waiter? = pool.withLock { state in
            if state.lifecycle == .closed { return nil }
            if let waiter = state.waiters.popFirst() { return waiter }
            state.idle.append(connection)
            return nil
        }
        if let waiter {
            waiter.continuation.resume(returning: connection)
        } else if pool.withLock({ $0.lifecycle == .closed }) {
            connection.drop()
        }
    }
}
