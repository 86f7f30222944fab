import CalsyncStore
import CalsyncSync
import Logging
import PostgresNIO

/// `calsync rekey`: reseals stored credentials under the current key so old keys can be retired.
package enum RekeyOperation {
    /// Reseals (or, with `dryRun`, counts) every credential under an old key; returns the lines to print.
    /// Fails (exit 1) when credentials remain under old keys, so a script does not remove a key too early.
    package static func run(
        configuration: CalsyncConfiguration, dryRun: Bool, batchSize: Int, logger: Logger
    ) async throws -> String {
        guard let key = configuration.encryption.key else {
            throw CalsyncAppError.config(
                ConfigurationError(code: .missingEncryptionKey, message: "CALSYNC_ENCRYPTION_KEY is not set; see calsync keygen"))
        }
        let sealer: CredentialSealer
        do {
            sealer = try CredentialSealer(currentKey: key, previousKeys: configuration.encryption.previousKeys)
        } catch {
            throw CalsyncAppError.config(ConfigurationError(code: .invalidEncryptionKey, message: error.message))
        }
        let databaseConfiguration = configuration.database
        try await ServiceChecks.checkDatabase(databaseConfiguration, logger: logger)
        let database = Database(configuration: databaseConfiguration, logger: logger)
        let report = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            return try await CredentialRekeyer(client: database.client, logger: logger)
                .run(sealer: sealer, dryRun: dryRun, batchSize: batchSize)
        }
        let text = describe(report, currentKeyID: sealer.currentKeyID, dryRun: dryRun)
        if !report.remaining.isEmpty && !dryRun { throw CalsyncAppError.failed(text) }
        return text
    }

    /// The report in words: counts, and what to do about what remains.
    static func describe(_ report: RekeyReport, currentKeyID: String, dryRun: Bool) -> String {
        var lines: [String] = []
        if dryRun {
            lines.append("dry run: \(report.readable) credential(s) under old keys would be resealed under key \(currentKeyID)")
        } else {
            lines.append("resealed \(report.resealed) credential(s) under key \(currentKeyID)")
            if report.changedMeanwhile > 0 {
                lines.append(
                    "\(report.changedMeanwhile) changed while being resealed (a refresh or reconnect wrote them) and were left "
                        + "as found; run calsync rekey again")
            }
        }
        if !dryRun {
            let total = report.remaining.values.reduce(0, +)
            if total == 0 {
                lines.append("0 remain under old keys: the old keys can be removed from CALSYNC_PREVIOUS_ENCRYPTION_KEYS")
            } else {
                let byKey = report.remaining.sorted { $0.key < $1.key }.map { "\($0.value) under key \($0.key)" }
                lines.append("\(total) remain under old keys (\(byKey.joined(separator: ", "))): keep those keys configured")
            }
        }
        if !report.unreadable.isEmpty {
            let byKey = report.unreadable.sorted { $0.key < $1.key }.map { "\($0.value) under key \($0.key)" }.joined(separator: ", ")
            lines.append(
                "unreadable with the configured keys: \(byKey). Add the key that sealed them to CALSYNC_PREVIOUS_ENCRYPTION_KEYS "
                    + "and run calsync rekey again, or have those members reconnect their calendars")
        }
        return lines.joined(separator: "\n")
    }
}
