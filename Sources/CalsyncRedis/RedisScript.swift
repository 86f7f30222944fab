import Crypto

/// A Lua script run with EVALSHA (loaded on demand after NOSCRIPT).
package struct RedisScript: Sendable {
    /// The Lua source.
    package let source: String
    /// The lowercase hex SHA1 of the source, as Redis computes it.
    package let sha1: String

    /// Creates a script and computes its SHA1.
    package init(_ source: String) {
        self.source = source
        let digest = Insecure.SHA1.hash(data: Array(source.utf8))
        self.sha1 = digest.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
