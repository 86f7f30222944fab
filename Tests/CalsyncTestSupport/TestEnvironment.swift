// CalsyncTestSupport owns what the test targets share: where the real servers are,
// unique names per test, and the path of the built `calsync` binary.
// It must not depend on anything but the Redis layer and Foundation.
import Foundation

/// Where the tests find the real servers that `make test` starts.
package enum TestEnvironment {
    /// The Redis URL the tests use (`CALSYNC_REDIS_URL`, else the port `make test` uses).
    package static var redisURL: String {
        ProcessInfo.processInfo.environment["CALSYNC_REDIS_URL"] ?? "redis://127.0.0.1:16379/0"
    }

    /// The PostgreSQL URL the tests use (`CALSYNC_DATABASE_URL`, else the port `make test` uses).
    package static var databaseURL: String {
        ProcessInfo.processInfo.environment["CALSYNC_DATABASE_URL"]
            ?? "postgres://calsync@127.0.0.1:15432/calsync?sslmode=disable"
    }

    /// The folder `scripts/services.sh` started the servers in, when the tests run under `make test`.
    package static var servicesDirectory: String? {
        ProcessInfo.processInfo.environment["CALSYNC_TEST_SERVICES_DIR"]
    }

    /// The message a test fails with when a server it needs is not reachable.
    package static func missingServer(_ what: String, url: String, underlying: Error) -> String {
        "\(what) is not reachable at \(url) (\(underlying)). Run the tests with `make test`, "
            + "which starts Redis and PostgreSQL on loopback ports, or set CALSYNC_REDIS_URL / CALSYNC_DATABASE_URL."
    }

    /// A name that no other test (or test run) uses: for key prefixes, schemas, member ids.
    package static func uniqueName(_ base: String) -> String {
        let suffix = UUID().uuidString.prefix(8).lowercased()
        return "\(base)_\(suffix)"
    }

    /// The built `calsync` executable, next to the test bundle (or `CALSYNC_BIN`).
    package static var calsyncBinary: URL {
        if let explicit = ProcessInfo.processInfo.environment["CALSYNC_BIN"] {
            return URL(fileURLWithPath: explicit)
        }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        // On Linux the test binary is `.build/debug/calsyncPackageTests.xctest`; on macOS it is a bundle.
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("calsync").path),
            dir.pathComponents.count > 1
        {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("calsync")
    }
}
