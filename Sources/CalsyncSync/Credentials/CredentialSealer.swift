import Crypto
import Foundation

/// Credentials sealed with AES-GCM; `keyID` names the key that sealed them, so keys can rotate.
package struct SealedCredentials: Sendable, Hashable {
    /// The id of the key that sealed them (first 8 bytes of the key's SHA-256, hex).
    package var keyID: String
    /// Nonce, ciphertext and tag (`AES.GCM.SealedBox.combined`).
    package var sealed: [UInt8]

    /// Wraps stored bytes.
    package init(keyID: String, sealed: [UInt8]) {
        self.keyID = keyID
        self.sealed = sealed
    }
}

/// Why credentials could not be sealed or opened; never carries key material.
package struct CredentialSealError: Error, Sendable, CustomStringConvertible {
    /// A stable code: `unknown_key`, `tampered`, `invalid_key`.
    package var code: Code
    /// What to do.
    package var message: String

    /// `code: message`.
    package var description: String { "\(code): \(message)" }
}

/// Seals and opens connection credentials. The current key seals; older keys (kept for rotation) still open.
package struct CredentialSealer: Sendable {
    private let current: (id: String, key: SymmetricKey)
    private let keys: [String: SymmetricKey]

    /// The id of the key new seals use.
    package var currentKeyID: String { current.id }

    /// Creates a sealer from raw 32-byte keys: the first seals, all open.
    package init(currentKey: [UInt8], previousKeys: [[UInt8]] = []) throws(CredentialSealError) {
        for key in [currentKey] + previousKeys where key.count != 32 {
            throw CredentialSealError(
                code: .invalidKey, message: "an encryption key must be 32 bytes (base64 of 32 random bytes; see `calsync keygen`)")
        }
        let id = Self.keyID(currentKey)
        self.current = (id, SymmetricKey(data: currentKey))
        var keys: [String: SymmetricKey] = [id: SymmetricKey(data: currentKey)]
        for key in previousKeys { keys[Self.keyID(key)] = SymmetricKey(data: key) }
        self.keys = keys
    }

    /// The id of a key: the first 8 bytes of its SHA-256, hex. Reveals nothing usable about the key.
    package static func keyID(_ key: [UInt8]) -> String {
        SHA256.hash(data: key).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    /// Seals a value, bound to `context` (e.g. "member:provider") so a sealed blob cannot be moved to another row.
    package func seal<T: Encodable>(_ value: T, context: String) throws -> SealedCredentials {
        let plain = try JSONEncoder().encode(value)
        let box = try AES.GCM.seal(plain, using: current.key, authenticating: Data(context.utf8))
        guard let combined = box.combined else {
            throw CredentialSealError(code: .sealFailed, message: "AES-GCM produced no combined box")
        }
        return SealedCredentials(keyID: current.id, sealed: Array(combined))
    }

    /// Opens sealed credentials with the key that sealed them.
    package func open<T: Decodable>(_ type: T.Type, from sealed: SealedCredentials, context: String) throws -> T {
        guard let key = keys[sealed.keyID] else {
            throw CredentialSealError(
                code: .unknownKey,
                message: "credentials were sealed with key \(sealed.keyID), which is not configured; "
                    + "add it to CALSYNC_PREVIOUS_ENCRYPTION_KEYS or ask the member to reconnect")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.sealed)
            let plain = try AES.GCM.open(box, using: key, authenticating: Data(context.utf8))
            return try JSONDecoder().decode(T.self, from: plain)
        } catch {
            throw CredentialSealError(code: .tampered, message: "sealed credentials could not be opened (corrupted or moved)")
        }
    }

    /// Whether a seal should be renewed with the current key.
    package func needsResealing(_ sealed: SealedCredentials) -> Bool { sealed.keyID != current.id }

    /// Whether one of the configured keys can open seals made with this key id.
    package func knowsKey(_ keyID: String) -> Bool { keys[keyID] != nil }

    /// Opens `sealed` with its own key and seals the same bytes with the current key (nothing is decoded,
    /// so no field is lost); throws `unknown_key` or `tampered` like `open`.
    package func reseal(_ sealed: SealedCredentials, context: String) throws -> SealedCredentials {
        guard let key = keys[sealed.keyID] else {
            throw CredentialSealError(
                code: .unknownKey,
                message: "credentials were sealed with key \(sealed.keyID), which is not configured; "
                    + "add it to CALSYNC_PREVIOUS_ENCRYPTION_KEYS or ask the member to reconnect")
        }
        let plain: Data
        do {
            plain = try AES.GCM.open(AES.GCM.SealedBox(combined: sealed.sealed), using: key, authenticating: Data(context.utf8))
        } catch {
            throw CredentialSealError(code: .tampered, message: "sealed credentials could not be opened (corrupted or moved)")
        }
        let box = try AES.GCM.seal(plain, using: current.key, authenticating: Data(context.utf8))
        guard let combined = box.combined else {
            throw CredentialSealError(code: .sealFailed, message: "AES-GCM produced no combined box")
        }
        return SealedCredentials(keyID: current.id, sealed: Array(combined))
    }

    /// The context a connection's credentials are sealed under: they open only on that member's row for that provider.
    package static func connectionContext(memberID: String, provider: String) -> String {
        "calsync:credentials:\(memberID):\(provider)"
    }
}
