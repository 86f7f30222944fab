import Synchronization

/// Credentials already opened, by the exact sealed bytes and context they came from: every export job
/// opened its connection's credentials (AES-GCM and JSON) although they change only at a refresh or a
/// reconnect, which store new sealed bytes. Bounded; kept in this process's memory only, like the
/// credentials a running job holds anyway.
final class OpenedCredentialCache: Sendable {
    private struct Key: Hashable {
        var keyID: String
        var sealed: [UInt8]
        var context: String

        /// Hashes the key id, the context, the length and the last 16 sealed bytes (the AES-GCM tag, which
        /// differs for every sealing): hashing all the sealed bytes, one by one, cost more than the lookup
        /// saved on each export (`make bench`). Equality still compares every byte.
        func hash(into hasher: inout Hasher) {
            hasher.combine(keyID)
            hasher.combine(context)
            hasher.combine(sealed.count)
            sealed.suffix(16).withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    private let entries = Mutex([Key: ProviderCredentials]())
    /// Entries kept at most; the cache starts over when it is full.
    static let capacity = 10_000

    /// The credentials opened from these bytes before, if any.
    func value(_ sealed: SealedCredentials, context: String) -> ProviderCredentials? {
        let key = Key(keyID: sealed.keyID, sealed: sealed.sealed, context: context)
        return entries.withLock { $0[key] }
    }

    /// Remembers what these bytes opened to.
    func store(_ credentials: ProviderCredentials, _ sealed: SealedCredentials, context: String) {
        let key = Key(keyID: sealed.keyID, sealed: sealed.sealed, context: context)
        entries.withLock { entries in
            if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = credentials
        }
    }
}
