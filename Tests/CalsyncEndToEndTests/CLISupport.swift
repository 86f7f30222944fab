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
    let process = Process()
    let stdoutPath: String
    let stderrPath: String

    /// Starts `calsync ARGS` with `environment` (CALSYNC_* variables).
    init(_ arguments: [String], environment: [String: String]) throws {
        let base = NSTemporaryDirectory() + TestEnvironment.uniqueName("calsync-cli")
        stdoutPath = base + ".out"
        stderrPath = base + ".err"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = TestEnvironment.calsyncBinary
        process.arguments = arguments
        var env = environment
        let inherited = ProcessInfo.processInfo.environment
        env["PATH"] = inherited["PATH"] ?? "/usr/bin:/bin"
        env["HOME"] = inherited["HOME"] ?? "/tmp"
        process.environment = env
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// Sends SIGTERM.
    func terminate() { process.terminate() }

    /// What the process printed to stderr so far.
    var stderrSoFar: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Waits for the exit (failing the test after `timeout`) and returns the result.
    func wait(timeout: Duration = .seconds(20)) async throws -> CLIResult {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.interrupt()
                kill(process.processIdentifier, SIGKILL)
                Issue.record("calsync \(process.arguments ?? []) did not exit within \(timeout); stderr: \(stderrSoFar)")
                throw CLITimeout()
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        let result = CLIResult(
            status: process.terminationStatus,
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
