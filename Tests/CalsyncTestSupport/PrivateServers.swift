import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A private Redis + PostgreSQL pair started with `scripts/services.sh` on free loopback ports, for
/// tests that restart a server. `stop()` removes its folder.
package struct PrivateServers: Sendable {
    /// The folder the servers live in.
    package let directory: String
    /// Redis's port.
    package let redisPort: Int
    /// PostgreSQL's port.
    package let postgresPort: Int

    /// `postgres://calsync@127.0.0.1:PORT/calsync?sslmode=disable`.
    package var databaseURL: String { "postgres://calsync@127.0.0.1:\(postgresPort)/calsync?sslmode=disable" }
    /// `redis://127.0.0.1:PORT/0`.
    package var redisURL: String { "redis://127.0.0.1:\(redisPort)/0" }

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/services.sh").path
    }

    /// Starts both servers; fails naming `make test` and with the script's output when it cannot.
    package static func start() async throws -> PrivateServers {
        let directory = NSTemporaryDirectory() + TestEnvironment.uniqueName("calsync-private")
        let servers = PrivateServers(directory: directory, redisPort: try freePort(), postgresPort: try freePort())
        let log = directory + ".log"
        let status = try await shell(
            "CALSYNC_TEST_REDIS_PORT=\(servers.redisPort) CALSYNC_TEST_PG_PORT=\(servers.postgresPort) "
                + "'\(script)' start '\(directory)' >'\(log)' 2>&1")
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: log)
        guard status == 0 else {
            await servers.stop()
            throw PrivateServerError(
                description: "scripts/services.sh start failed (exit \(status)): \(output). Run the tests with `make test`.")
        }
        return servers
    }

    /// Restarts PostgreSQL (fast shutdown), waiting until it answers again.
    package func restartPostgres() async throws {
        let asUser = getuid() == 0 ? "runuser -u calsync-pg -- " : ""
        let pgCtl = "$(command -v pg_ctl || ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)"
        let status = try await Self.shell("\(asUser)\(pgCtl) -D '\(directory)/pg' -m fast -w -t 30 restart >/dev/null")
        guard status == 0 else { throw PrivateServerError(description: "pg_ctl restart failed (exit \(status))") }
    }

    /// Restarts Redis gracefully (SHUTDOWN writes the AOF, a new server on the same port loads it),
    /// waiting until it answers again.
    package func restartRedis() async throws {
        let status = try await Self.shell(
            "CALSYNC_TEST_REDIS_PORT=\(redisPort) '\(Self.script)' restart-redis '\(directory)' >/dev/null 2>&1")
        guard status == 0 else { throw PrivateServerError(description: "services.sh restart-redis failed (exit \(status))") }
    }

    /// Stops both servers and removes the folder.
    package func stop() async {
        _ = try? await Self.shell("'\(Self.script)' stop '\(directory)' >/dev/null 2>&1")
    }

    /// A loopback port that is free now (the kernel picks it).
    package static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PrivateServerError(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw PrivateServerError(description: "bind() failed") }
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw PrivateServerError(description: "getsockname() failed") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs a bash command (output to /dev/null unless it redirects) and returns its exit status, or -1 after `timeout`.
    @discardableResult
    package static func shell(_ command: String, timeout: Duration = .seconds(60)) async throws -> Int32 {
        let child = try ChildProcess(
            executable: "/bin/bash", arguments: ["-c", command], environment: ProcessInfo.processInfo.environment,
            stdoutPath: "/dev/null", stderrPath: "/dev/null")
        if let status = await child.wait(timeout: timeout) { return status }
        await child.kill9()
        return -1
    }
}

/// A private server could not be started or restarted.
package struct PrivateServerError: Error, CustomStringConvertible {
    /// What went wrong.
    package let description: String
}
