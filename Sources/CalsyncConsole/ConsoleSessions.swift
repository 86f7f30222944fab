import CalsyncJobs
import CalsyncRedis
import Crypto
import Foundation

/// One operator's login: their name and the CSRF token every form of the session carries.
package struct ConsoleSession: Sendable, Codable, Equatable {
    /// The name the operator gave at login (recorded with every action).
    package var operatorName: String
    /// The session's CSRF token.
    package var csrf: String

    /// The stored field names.
    enum CodingKeys: String, CodingKey {
        case operatorName = "operator"
        case csrf
    }
}

/// Console sessions in Redis: `<prefix>:console:session:<sha256 of the cookie>` with the session's lifetime,
/// so neither the cookie value nor anything that opens a session is stored.
package struct ConsoleSessions: Sendable {
    let redis: RedisClient
    let prefix: String
    let lifetime: Duration

    /// Creates the store.
    package init(redis: RedisClient, prefix: String, lifetime: Duration) {
        self.redis = redis
        self.prefix = prefix
        self.lifetime = lifetime
    }

    /// 32 random bytes, base64url without padding (a cookie value, a CSRF token).
    package static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Whether two tokens are equal, in time independent of where they differ.
    package static func sameToken(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        guard x.count == y.count, !x.isEmpty else { return false }
        var difference: UInt8 = 0
        for i in 0..<x.count { difference |= x[i] ^ y[i] }
        return difference == 0
    }

    private func key(_ cookie: String) -> String {
        let digest = SHA256.hash(data: Data(cookie.utf8)).map { String(format: "%02x", $0) }.joined()
        return "\(prefix):console:session:\(digest)"
    }

    /// Starts a session; returns the cookie value and the session.
    package func create(operatorName: String) async throws -> (cookie: String, session: ConsoleSession) {
        let cookie = Self.randomToken()
        let session = ConsoleSession(operatorName: operatorName, csrf: Self.randomToken())
        let json = String(decoding: try JSONEncoder().encode(session), as: UTF8.self)
        _ = try await redis.send(["SET", key(cookie), json, "PX", String(lifetime.milliseconds)])
        return (cookie, session)
    }

    /// The session of a cookie, or nil when it is unknown or expired.
    package func find(_ cookie: String) async throws -> ConsoleSession? {
        guard !cookie.isEmpty, cookie.count <= 128 else { return nil }
        guard let bytes = try await redis.send(["GET", key(cookie)]).bytes else { return nil }
        return try? JSONDecoder().decode(ConsoleSession.self, from: Data(bytes))
    }

    /// Ends a session.
    package func delete(_ cookie: String) async throws {
        _ = try await redis.send(["DEL", key(cookie)])
    }
}

/// The login's guard in Redis: at most `attemptsPerMinute` attempts a minute (all clients together: a ceiling on
/// guessing the one password), and after `lockoutFailures` wrong passwords in a row for one operator name that
/// name's sign-in is locked for `lockout`; other operators still sign in (a stranger cannot lock everyone out).
/// Names are keyed by a hash of their lowercased form, so no name is stored in a key.
package struct LoginGuard: Sendable {
    let redis: RedisClient
    let prefix: String
    let attemptsPerMinute: Int
    let lockoutFailures: Int
    let lockout: Duration

    /// Why a login attempt is refused before its password is checked.
    package enum Refusal: Sendable, Equatable {
        /// Too many attempts this minute.
        case rateLimited
        /// Locked after too many wrong passwords; seconds left.
        case lockedOut(seconds: Int)
    }

    /// Creates the guard.
    package init(redis: RedisClient, prefix: String, attemptsPerMinute: Int, lockoutFailures: Int, lockout: Duration) {
        self.redis = redis
        self.prefix = prefix
        self.attemptsPerMinute = attemptsPerMinute
        self.lockoutFailures = lockoutFailures
        self.lockout = lockout
    }

    /// `<prefix>:console:login:locked:<sha256 of the lowercased name>` (and `…:failures:…`).
    package func lockKey(_ operatorName: String) -> String { "\(prefix):console:login:locked:\(Self.nameKey(operatorName))" }
    private func failuresKey(_ operatorName: String) -> String { "\(prefix):console:login:failures:\(Self.nameKey(operatorName))" }

    static func nameKey(_ operatorName: String) -> String {
        SHA256.hash(data: Data(operatorName.lowercased().utf8)).prefix(16).map { String(format: "%02x", $0) }.joined()
    }

    /// Counts an attempt of `operatorName`; returns why it is refused, or nil when its password may be checked.
    package func admit(_ operatorName: String) async throws -> Refusal? {
        let ttl = try await redis.send(["PTTL", lockKey(operatorName)]).int ?? -2
        if ttl > 0 { return .lockedOut(seconds: max(1, (ttl + 999) / 1000)) }
        let minute = Int(Date().timeIntervalSince1970) / 60
        let replies = try await redis.pipeline([
            ["INCR", "\(prefix):console:login:attempts:\(minute)"], ["EXPIRE", "\(prefix):console:login:attempts:\(minute)", "120"],
        ])
        if (replies.first?.int ?? 0) > attemptsPerMinute { return .rateLimited }
        return nil
    }

    /// Records a wrong password for `operatorName`; locks that name after `lockoutFailures` in a row. Returns true
    /// when it locked.
    package func failed(_ operatorName: String) async throws -> Bool {
        let failures = failuresKey(operatorName)
        let replies = try await redis.pipeline([["INCR", failures], ["PEXPIRE", failures, String(lockout.milliseconds)]])
        guard (replies.first?.int ?? 0) >= lockoutFailures else { return false }
        _ = try await redis.pipeline([["SET", lockKey(operatorName), "1", "PX", String(lockout.milliseconds)], ["DEL", failures]])
        return true
    }

    /// Records a good password for `operatorName` (its run of failures starts again).
    package func succeeded(_ operatorName: String) async throws {
        _ = try await redis.send(["DEL", failuresKey(operatorName)])
    }
}
