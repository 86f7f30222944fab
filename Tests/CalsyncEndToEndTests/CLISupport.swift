import CalsyncTestSupport
import Foundation
import Testing

/// One run of the real `calsync` binary: exit status and what it printed.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Spawns the `calsync` binary with an explicit environment (nothing inherited but PATH and HOME).
final class CLIProcess: @unchecked Sendable {
    let child: ChildProcess
    let arguments: [String]
    let stdoutPath: String
    let stderrPath: String

    /// Starts `calsync ARGS` with `environment` (CALSYNC_* variables).
    init(_ arguments: [String], environment: [String: String]) throws {
        let base = NSTemporaryDirectory() + TestEnvironment.uniqueName("calsync-cli")
        stdoutPath = base + ".out"
        stderrPath = base + ".err"
        self.arguments = arguments
        var env = environment
        let inherited = ProcessInfo.processInfo.environment
        env["PATH"] = inherited["PATH"] ?? "/usr/bin:/bin"
        env["HOME"] = inherited["HOME"] ?? "/tmp"
        child = try ChildProcess(
            executable: TestEnvironment.calsyncBinary.path, arguments: arguments, environment: env,
            stdoutPath: stdoutPath, stderrPath: stderrPath)
    }

    var isRunning: Bool { child.isRunning }

    /// Sends SIGTERM.
    func terminate() { child.signal(SIGTERM) }

    /// What the process printed to stderr so far.
    var stderrSoFar: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits for the exit (failing the test after `timeout`) and returns the result.
    func wait(timeout: Duration = .seconds(20)) async throws -> CLIResult {
        guard let status = await child.wait(timeout: timeout) else {
            await child.kill9()
            Issue.record("calsync \(arguments) did not exit within \(timeout); stderr: \(stderrSoFar)")
            throw CLITimeout()
        }
        let result = CLIResult(
            status: status,
            stdout: (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "",
            stderr: stderrSoFar)
        try? FileManager.default.removeItem(atPath: stdoutPath)
        try? FileManager.default.removeItem(atPath: stderrPath)
        return result
    }

    /// Runs `calsync ARGS` to completion.
    static func run(_ arguments: [String], environment: [String: String], timeout: Duration = .seconds(20)) async throws
        -> CLIResult
    {
        try await CLIProcess(arguments, environment: environment).wait(timeout: timeout)
    }
}

struct CLITimeout: Error {}

/// Polls `condition` every 50 ms until it holds or `timeout` passes; returns whether it held.
func cliEventually(timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
