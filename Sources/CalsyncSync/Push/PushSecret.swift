import Crypto
import Foundation

/// The secrets of push channels: random ids and tokens, stored only as SHA-256, compared in constant time.
package enum PushSecret {
    /// A random URL-safe secret of 32 bytes (43 characters: within Google's 256 and Graph's 128 limits).
    package static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// A random channel id (`calsync-` and 32 hex digits).
    package static func channelID() -> String {
        "calsync-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    /// The stored form of a secret: SHA-256 as lowercase hex.
    package static func hash(_ secret: String) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: Data(secret.utf8)) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// Whether `candidate` hashes to `storedHash`, comparing every byte (no early exit).
    package static func matches(_ candidate: String?, storedHash: String) -> Bool {
        let given = Array(hash(candidate ?? "").utf8)
        let stored = Array(storedHash.utf8)
        var difference: UInt8 = given.count == stored.count ? 0 : 1
        for index in 0..<min(given.count, stored.count) { difference |= given[index] ^ stored[index] }
        return difference == 0 && candidate?.isEmpty == false
    }
}
