import CalsyncSync
import Logging
import PostgresNIO

/// What `calsync rekey` did (or, on a dry run, would do).
package struct RekeyReport: Sendable, Equatable {
    /// Credentials found under an old key that the configured keys can open (dry run: that would be resealed).
    package var readable = 0
    /// Credentials resealed under the current key (0 on a dry run).
    package var resealed = 0
    /// Rows that changed while they were being resealed (a refresh or reconnect wrote them meanwhile): left as found.
    package var changedMeanwhile = 0
    /// Credentials under an old key that the configured keys cannot open, by key id.
    package var unreadable: [String: Int] = [:]
    /// Credentials that remain under a key other than the current one once the run ended, by key id.
    package var remaining: [String: Int] = [:]

    /// Creates an empty report.
    package init() {}
}

/// Reseals every stored connection credential still under an old key with the current key, in batches,
/// so that an old key can be removed from `CALSYNC_PREVIOUS_ENCRYPTION_KEYS`.
package struct CredentialRekeyer: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// Creates a rekeyer on a running client.
    package init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Walks the connections under old keys in id order, `batchSize` at a time. Each row is updated only if
    /// its key id and sealed bytes are still those read (a refresh or a reconnect meanwhile wins).
    package func run(sealer: CredentialSealer, dryRun: Bool, batchSize: Int = 500) async throws -> RekeyReport {
        var report = RekeyReport()
        let current = sealer.currentKeyID
        var after = "00000000-0000-0000-0000-000000000000"
        while true {
            let rows = try await client.query(
                """
                SELECT id::text, member_id, provider, credentials_key_id, credentials_sealed FROM calendar_connections
                WHERE credentials_sealed IS NOT NULL AND credentials_key_id IS DISTINCT FROM \(current)
                  AND id > \(after)::uuid
                ORDER BY id LIMIT \(batchSize)
                """, logger: logger)
            var batch: [(id: String, context: String, sealed: SealedCredentials)] = []
            for try await (id, member, provider, keyID, sealed) in rows.decode((String, String, String, String?, ByteBuffer).self) {
                batch.append((id, CredentialSealer.connectionContext(memberID: member, provider: provider),
                              SealedCredentials(keyID: keyID ?? "", sealed: Array(buffer: sealed))))
            }
            guard let last = batch.last else { break }
            after = last.id
            for row in batch {
                let fresh: SealedCredentials
                do {
                    fresh = try sealer.reseal(row.sealed, context: row.context)
                } catch {
                    report.unreadable[row.sealed.keyID.isEmpty ? "(none)" : row.sealed.keyID, default: 0] += 1
                    continue
                }
                report.readable += 1
                if dryRun { continue }
                if try await replace(connectionID: row.id, old: row.sealed, new: fresh) {
                    report.resealed += 1
                } else {
                    report.changedMeanwhile += 1
                }
            }
            if batch.count < batchSize { break }
        }
        let left = try await client.query(
            """
            SELECT coalesce(credentials_key_id, '(none)'), count(*)::int8 FROM calendar_connections
            WHERE credentials_sealed IS NOT NULL AND credentials_key_id IS DISTINCT FROM \(current)
            GROUP BY 1
            """, logger: logger)
        for try await (keyID, count) in left.decode((String, Int64).self) { report.remaining[keyID] = Int(count) }
        return report
    }

    /// Writes `new` over a connection's credentials only if they are still `old` (key id and bytes).
    func replace(connectionID: String, old: SealedCredentials, new: SealedCredentials) async throws -> Bool {
        let rows = try await client.query(
            """
            UPDATE calendar_connections SET credentials_sealed = \(ByteBuffer(bytes: new.sealed)),
                credentials_key_id = \(new.keyID), updated_at = now()
            WHERE id = \(connectionID)::uuid AND credentials_key_id = \(old.keyID)
              AND credentials_sealed = \(ByteBuffer(bytes: old.sealed))
            RETURNING id::text
            """, logger: logger)
        var updated = false
        for try await _ in rows.decode(String.self) { updated = true }
        return updated
    }
}
