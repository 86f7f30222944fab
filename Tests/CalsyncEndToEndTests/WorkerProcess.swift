import CalsyncRedis
import CalsyncTestSupport
import Foundation
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

let e2eLogger: Logger = {
    var logger = Logger(label: "calsync.e2e")
    logger.logLevel = .critical
    return logger
}()

/// A spawned `calsync worker --diagnostic-jobs` process.
final class WorkerProcess: @unchecked Sendable {
    let child: ChildProcess
    let logURL: URL

    /// Starts the real binary with the test environment.
    init(redisURL: String, prefix: String, extraEnvironment: [String: String] = [:]) throws {
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(6)).log")
        var environment: [String: String] = [
            "CALSYNC_REDIS_URL": redisURL,
            "CALSYNC_REDIS_PREFIX": prefix,
            "CALSYNC_DATABASE_URL": TestEnvironment.databaseURL,
            "CALSYNC_ENCRYPTION_KEY": Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString(),
            "CALSYNC_METRICS_PORT": "0",
            // A worker keeps its pool's connections open: tests run many workers side by side.
            "CALSYNC_DATABASE_MAX_CONNECTIONS": "4",
        ]
        for (key, value) in extraEnvironment { environment[key] = value }
        child = try ChildProcess(
            executable: TestEnvironment.calsyncBinary.path, arguments: ["worker", "--diagnostic-jobs"],
            environment: ChildProcess.environment(environment), stdoutPath: logURL.path, stderrPath: logURL.path)
    }

    var pid: Int32 { child.pid }

    /// Whether the worker still runs.
    var isRunning: Bool { child.isRunning }

    /// Sends a signal.
    func signal(_ signal: Int32) { child.signal(signal) }

    /// Waits for the process to exit (polling); returns its exit status, or nil after the timeout.
    func waitForExit(timeout: Duration) async -> Int32? { await child.wait(timeout: timeout) }

    /// Kills the process if it still runs (cleanup).
    func stop() { child.signal(SIGKILL) }

    /// The last lines of the process's log, for failure messages.
    var logTail: String {
        let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(15).joined(separator: "\n")
    }
}

/// A Redis client on `url`; fails loudly (naming `make test`) when it is not reachable.
func connect(_ url: String, poolSize: Int = 4) async throws -> RedisClient {
    let client = RedisClient.running(configuration: try RedisConfiguration(url: url), logger: e2eLogger, poolSize: poolSize)
    do {
        _ = try await client.send(["PING"])
    } catch {
        client.close()
        Issue.record(Comment(rawValue: TestEnvironment.missingServer("Redis", url: url, underlying: error)))
        throw error
    }
    return client
}

/// Pushes diag_echo jobs as a producer would (pipelined LPUSH); returns their ids in order.
func enqueueDiag(_ redis: RedisClient, prefix: String, count: Int, payload: String, idPrefix: String = "j") async throws -> [String] {
    var ids: [String] = []
    var batch: [[String]] = []
    for n in 0..<count {
        let id = "\(idPrefix)-\(n)"
        ids.append(id)
        batch.append(["LPUSH", "\(prefix):queue:diag_echo", #"{"id":"\#(id)","type":"diag_echo","enqueued_at":"2026-01-01T00:00:00Z","payload":\#(payload)}"#])
        if batch.count == 500 {
            _ = try await redis.pipeline(batch)
            batch = []
        }
    }
    if !batch.isEmpty { _ = try await redis.pipeline(batch) }
    return ids
}

/// The ids diag_echo completed, with repetitions.
func done(_ redis: RedisClient, prefix: String) async throws -> [String] {
    (try await redis.send(["LRANGE", "\(prefix):diag:done", "0", "-1"]).array ?? []).compactMap { $0.string }
}

func count(_ redis: RedisClient, _ command: [String]) async throws -> Int {
    try await redis.send(command).int ?? 0
}

/// Polls until `condition` holds; fails with `context()` after the timeout.
func eventually(
    _ what: String, timeout: Duration, context: @autoclosure () -> String = "",
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if (try? await condition()) == true { return }
        try await Task.sleep(for: .milliseconds(25))
    }
    Issue.record("timed out waiting for: \(what)\n\(context())", sourceLocation: sourceLocation)
    throw CancellationError()
}

/// Deletes a test prefix's keys.
func cleanup(_ redis: RedisClient, prefix: String) async {
    var cursor = "0"
    repeat {
        guard let reply = try? await redis.send(["SCAN", cursor, "MATCH", prefix + ":*", "COUNT", "1000"]),
            let parts = reply.array, parts.count == 2, let next = parts[0].string
        else { return }
        cursor = next
        let keys = (parts[1].array ?? []).compactMap { $0.string }
        if !keys.isEmpty { _ = try? await redis.send(["DEL"] + keys) }
    } while cursor != "0"
}

/// A private redis-server with AOF on, in its own folder, on its own port (a child process in the foreground).
final class PrivateRedis: @unchecked Sendable {
    let port: Int
    let directory: URL
    private var process: ChildProcess?
    var url: String { "redis://127.0.0.1:\(port)/0" }

    init() async throws {
        port = try PrivateServers.freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("calsync-redis-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try await start()
    }

    /// Starts (or restarts) the server on the same port and folder and waits until it answers.
    func start() async throws {
        let log = directory.appendingPathComponent("redis.log").path
        process = try ChildProcess(
            executable: "/usr/bin/env",
            arguments: [
                "redis-server", "--port", String(port), "--bind", "127.0.0.1", "--dir", directory.path, "--appendonly",
                "yes", "--save", "", "--logfile", log,
            ],
            environment: ProcessInfo.processInfo.environment, stdoutPath: "/dev/null", stderrPath: "/dev/null")
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            let probe = RedisClient.running(configuration: try RedisConfiguration(url: url), logger: e2eLogger, poolSize: 1)
            let alive = (try? await probe.send(["PING"])) != nil
            probe.close()
            if alive { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("the private redis-server did not start on port \(port)")
    }

    /// Stops the server with SHUTDOWN (it writes its AOF) and waits for it to exit.
    func shutdown() async {
        let client = RedisClient.running(configuration: (try? RedisConfiguration(url: url)) ?? RedisConfiguration(), logger: e2eLogger, poolSize: 1)
        _ = try? await client.send(["SHUTDOWN"])
        client.close()
        _ = await process?.wait(timeout: .seconds(5))
    }

    deinit {
        process?.signal(SIGKILL)
        try? FileManager.default.removeItem(at: directory)
    }
}
