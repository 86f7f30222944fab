import Foundation

/// The users of the tests' Radicale (scripts/with-services.sh): a plain-text htpasswd file that every test
/// target of this process changes through this one lock (a read-modify-write would otherwise lose users).
package enum RadicaleUsers {
    private static let lock = NSLock()

    /// The htpasswd file, when the services script started Radicale.
    package static var path: String? { ProcessInfo.processInfo.environment["CALSYNC_TEST_RADICALE_USERS"] }

    /// Adds a user or changes its password.
    package static func set(_ username: String, _ password: String) throws {
        guard let path else { return }
        lock.lock()
        defer { lock.unlock() }
        let current = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var lines = current.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("\(username):") }
        lines.append("\(username):\(password)")
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
}
