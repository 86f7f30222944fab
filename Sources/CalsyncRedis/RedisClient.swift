// CalsyncRedis owns the Redis connection layer: a small pool of hiredis (0.14) connections whose
// blocking calls run on a NIOThreadPool that the client (a Service) starts in run(), binary-safe
// commands, pipelines and EVALSHA scripts, and the automatic pipelining of concurrent callers' commands.
// It must not depend on the job engine, the sync rules, or anything calsync-specific.
import DequeModule
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A Redis client: a small pool of hiredis connections, blocking calls run on a `NIOThreadPool`.
///
/// Commands of concurrent callers are pipelined automatically: a caller's command joins a queue, and a
/// drainer (a pool thread holding one connection) writes everything queued in one pipeline, reads the
/// replies and hands each caller its own. Under load many commands share one write, one read and one
/// thread wake-up; alone, a command costs what it did before. Each caller's commands keep their order
/// (a caller waits for its reply before it sends again), and a `pipeline(_:)` call stays contiguous. A
/// second drainer (up to `poolSize`) starts only when the queue backs up behind the busy ones, so a
/// blocking command (`BLPOP`) holds up the commands queued behind it on a pool of one.
///
/// It is a `Service`: `run()` starts its threads and returns once the client is closed (graceful
/// shutdown, cancellation of `run()`, or `close()`). Commands sent before `run()` starts wait for it;
/// commands after the close throw `closed`. Tools and tests that own a client use ``withRunning(_:)``.
package final class RedisClient: Service, Sendable {
    private enum Lifecycle {
        case notStarted, running, closed
    }

    /// One caller's commands waiting for a drainer; `id` finds them again when the caller is cancelled.
    private struct Submission {
        let id: Int
        let commands: [[[UInt8]]]
        /// Set for an EVALSHA of this script: on NOSCRIPT it is loaded and run again.
        let script: RedisScript?
        let continuation: CheckedContinuation<[RedisValue], any Error>
    }

    private struct PoolState: ~Copyable {
        var lifecycle = Lifecycle.notStarted
        var threadsStarted = false
        /// Connections not held by a drainer.
        var idle: [RedisConnection] = []
        var created = 0
        var queue = Deque<Submission>()
        var nextID = 0
        /// Drainers running now (each holds a connection).
        var drainers = 0
        /// `run()` calls waiting for the close.
        var runs: [CheckedContinuation<Void, Never>] = []
    }

    /// The configuration this client was made with.
    package let configuration: RedisConfiguration
    private let logger: Logger
    private let poolSize: Int
    private let threadPool: NIOThreadPool
    private let pool = Mutex(PoolState())
    private let sent = Atomic<Int>(0)

    /// Submissions one pipeline carries at most.
    static let maxBatch = 512
    /// Another drainer starts when this many submissions per running drainer are queued.
    static let backlogPerDrainer = 16

    /// Creates a client; nothing starts until `run()`. Connections are opened lazily, at most `poolSize` of them.
    package init(configuration: RedisConfiguration, logger: Logger, poolSize: Int = 8) {
        self.configuration = configuration
        self.logger = logger
        self.poolSize = max(1, poolSize)
        self.threadPool = NIOThreadPool(numberOfThreads: self.poolSize)
    }

    /// Starts the thread pool, drains the commands that waited for it, and returns when the client is
    /// closed: on graceful shutdown, when this task is cancelled, or on `close()`.
    package func run() async throws {
        let started: Bool? = pool.withLock { state in
            guard state.lifecycle == .notStarted else { return nil }
            // Threads first, under the lock: a command that sees `running` finds them, and `close()` never
            // shuts down a pool that is not started yet.
            threadPool.start()
            state.lifecycle = .running
            state.threadsStarted = true
            return startDrainerIfNeeded(&state)
        }
        guard started != nil else {
            if pool.withLock({ $0.lifecycle == .closed }) { return }
            throw RedisError(code: .alreadyRunning, message: "this Redis client is already running: run it once")
        }
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
        try Self.thrownIfError(try await submit([args], script: nil)[0])
    }

    /// Sends the commands in one pipeline; error replies come back as `.error` in place.
    package func pipeline(_ commands: [[String]]) async throws -> [RedisValue] {
        if commands.isEmpty { return [] }
        return try await submit(commands.map { $0.map { Array($0.utf8) } }, script: nil)
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
        return try Self.thrownIfError(try await submit([command], script: script)[0])
    }

    private static func thrownIfError(_ value: RedisValue) throws -> RedisValue {
        if case .error(let message) = value { throw RedisError.serverError(message) }
        return value
    }

    private static func isNoScript(_ value: RedisValue) -> Bool {
        if case .error(let message) = value { return message.hasPrefix("NOSCRIPT") }
        return false
    }

    /// Closes every connection and stops the thread pool; waiting and later commands throw `closed`, and
    /// `run()` returns. Graceful shutdown calls it; calling it again does nothing.
    package func close() {
        let closing = pool.withLock { state -> (idle: [RedisConnection], queue: Deque<Submission>, runs: [CheckedContinuation<Void, Never>], threads: Bool)? in
            guard state.lifecycle != .closed else { return nil }
            state.lifecycle = .closed
            defer {
                state.idle = []
                state.queue = []
                state.runs = []
            }
            return (state.idle, state.queue, state.runs, state.threadsStarted)
        }
        guard let closing else { return }
        for waiting in closing.queue { waiting.continuation.resume(throwing: RedisError.closed) }
        for connection in closing.idle { connection.drop() }
        if closing.threads { threadPool.shutdownGracefully { _ in } }
        for run in closing.runs { run.resume() }
    }

    /// Commands waiting for a drainer now (tests observe it).
    package var waitingCommands: Int { pool.withLock { $0.queue.count } }

    /// Pipelines written so far (each carries one or more callers' commands; tests and benchmarks observe it).
    package var pipelinesSent: Int { sent.load(ordering: .relaxed) }

    // MARK: - Automatic pipelining

    /// Queues one caller's commands (cancellably, until a drainer takes them) and returns their replies in
    /// order; a connection failure throws for every caller of the batch.
    private func submit(_ commands: [[[UInt8]]], script: RedisScript?) async throws -> [RedisValue] {
        let id = pool.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[RedisValue], any Error>) in
                let refused: (any Error)? = pool.withLock { state in
                    if state.lifecycle == .closed { return RedisError.closed }
                    // Under the lock: a cancellation that already ran its handler is seen here.
                    if Task.isCancelled { return CancellationError() }
                    state.queue.append(Submission(id: id, commands: commands, script: script, continuation: continuation))
                    _ = startDrainerIfNeeded(&state)
                    return nil
                }
                if let refused { continuation.resume(throwing: refused) }
            }
        } onCancel: {
            let waiting: Submission? = pool.withLock { state in
                guard let index = state.queue.firstIndex(where: { $0.id == id }) else { return nil }
                return state.queue.remove(at: index)
            }
            waiting?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Starts a drainer (under the pool's lock) when commands are queued and none runs, or when the queue
    /// backs up behind the running ones and the pool has room. Returns whether one started.
    private func startDrainerIfNeeded(_ state: inout PoolState) -> Bool {
        guard state.lifecycle == .running, !state.queue.isEmpty, state.drainers < poolSize else { return false }
        guard state.drainers == 0 || state.queue.count >= Self.backlogPerDrainer * state.drainers else { return false }
        let connection: RedisConnection
        if let idle = state.idle.popLast() {
            connection = idle
        } else if state.created < poolSize {
            state.created += 1
            connection = RedisConnection(configuration: configuration)
        } else {
            return false
        }
        state.drainers += 1
        threadPool.submit { [self] work in
            guard work == .active else {
                self.drainerStopped(connection)
                return
            }
            self.drain(connection)
        }
        return true
    }

    /// A drainer's loop on a pool thread: takes what is queued, sends it as one pipeline, hands out the
    /// replies, until the queue is empty.
    private func drain(_ connection: RedisConnection) {
        while true {
            let batch: [Submission]? = pool.withLock { state in
                guard state.lifecycle == .running, !state.queue.isEmpty else {
                    state.drainers -= 1
                    if state.lifecycle == .running { state.idle.append(connection) }
                    return nil
                }
                var batch: [Submission] = []
                batch.reserveCapacity(min(state.queue.count, Self.maxBatch))
                while batch.count < Self.maxBatch, let next = state.queue.popFirst() { batch.append(next) }
                return batch
            }
            guard let batch else {
                if pool.withLock({ $0.lifecycle == .closed }) { connection.drop() }
                return
            }
            run(batch, on: connection)
        }
    }

    private func drainerStopped(_ connection: RedisConnection) {
        let closed = pool.withLock { state in
            state.drainers -= 1
            if state.lifecycle == .running { state.idle.append(connection) }
            return state.lifecycle != .running
        }
        if closed { connection.drop() }
    }

    /// Sends one batch as one pipeline and resumes each caller with its replies; a NOSCRIPT reply loads its
    /// script and runs it again on this connection.
    private func run(_ batch: [Submission], on connection: RedisConnection) {
        var commands: [[[UInt8]]] = []
        commands.reserveCapacity(batch.count)
        for submission in batch { commands.append(contentsOf: submission.commands) }
        sent.add(1, ordering: .relaxed)
        let (replies, failure) = connection.pipeline(commands)
        if let failure, failure.code == .connectionFailed || failure.code == .timeout {
            // The key is LogKey.errorCode's, which lives above this driver.
            logger.debug("redis command failed", metadata: ["calsync.error.code": "\(failure.code)"])
        }
        var offset = 0
        for submission in batch {
            let count = submission.commands.count
            guard offset + count <= replies.count else {
                // Not (fully) answered before the connection failed: its commands may or may not have run.
                submission.continuation.resume(throwing: failure ?? RedisError.connectionFailed("the pipeline ended early"))
                offset += count
                continue
            }
            let own = Array(replies[offset..<offset + count])
            offset += count
            if let script = submission.script, Self.isNoScript(own[0]) {
                submission.continuation.resume(with: Result { [try reloaded(script, submission.commands[0], on: connection)] })
            } else {
                submission.continuation.resume(returning: own)
            }
        }
    }

    /// Loads a script the server does not know (restart, SCRIPT FLUSH) and runs its EVALSHA again; EVAL
    /// when the cache was flushed once more in between.
    private func reloaded(_ script: RedisScript, _ command: [[UInt8]], on connection: RedisConnection) throws -> RedisValue {
        _ = try connection.command([Array("SCRIPT".utf8), Array("LOAD".utf8), Array(script.source.utf8)])
        do {
            return try connection.command(command)
        } catch let again as RedisError where again.code == .serverError && again.message.hasPrefix("NOSCRIPT") {
            var eval = command
            eval[0] = Array("EVAL".utf8)
            eval[1] = Array(script.source.utf8)
            return try connection.command(eval)
        }
    }
}
