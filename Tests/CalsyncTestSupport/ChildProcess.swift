import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process that the test reaps itself (posix_spawn + waitpid on its own pid).
///
/// Foundation's `Process` on Linux can miss the exit of a child that ends quickly while many others
/// start and stop (its `isRunning` then stays true for good), so every process a test spawns goes
/// through this instead. Output goes to files; nothing blocks a thread.
package final class ChildProcess: @unchecked Sendable {
    /// The child's pid.
    package let pid: pid_t
    /// The executable and arguments, for messages.
    package let commandLine: [String]
    private let lock = NSLock()
    private var status: Int32?

    /// Starts `executable` with `arguments` and exactly `environment`; stdout and stderr are appended
    /// to the given files (created when missing), stdin is /dev/null.
    package init(
        executable: String, arguments: [String], environment: [String: String], stdoutPath: String,
        stderrPath: String
    ) throws {
        commandLine = [executable] + arguments
        var argv: [UnsafeMutablePointer<CChar>?] = commandLine.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        // Nothing else of the test process (its database and Redis connections above all) leaks into the child.
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, &argv, &envp)
        guard result == 0 else {
            throw PrivateServerError(description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        self.pid = pid
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+), which Swift's Glibc module does not export.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else {
            return nil
        }
        return unsafeBitCast(
            symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// The exit status once the child has ended (its exit code, or 128 + the signal that ended it).
    package var exitStatus: Int32? {
        lock.withLock {
            if let status { return status }
            var raw: Int32 = 0
            let reaped = waitpid(pid, &raw, WNOHANG)
            if reaped == pid {
                // WIFEXITED / WEXITSTATUS / WTERMSIG by hand: the macros are not imported into Swift.
                status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
            } else if reaped < 0 {
                status = -1  // not our child any more: treat as gone
            }
            return status
        }
    }

    /// Whether the child still runs.
    package var isRunning: Bool { exitStatus == nil }

    /// Sends a signal.
    package func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits for the exit without blocking a thread; nil when it still runs after `timeout`.
    package func wait(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = exitStatus { return status }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return exitStatus
    }

    /// Kills the child (SIGKILL) and reaps it.
    package func kill9() async {
        signal(SIGKILL)
        _ = await wait(timeout: .seconds(10))
    }

    /// The current environment with `overrides` applied.
    package static func environment(_ overrides: [String: String]) -> [String: String] {
        ProcessInfo.processInfo.environment.merging(overrides) { $1 }
    }
}
