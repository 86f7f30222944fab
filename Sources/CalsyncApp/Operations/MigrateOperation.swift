import CalsyncStore
import Logging

/// `calsync migrate`: applies pending migrations and says what it did.
package enum MigrateOperation {
    /// Applies every pending migration; returns the lines to print ("up to date" when there was nothing to do).
    package static func run(configuration: CalsyncConfiguration, logger: Logger) async throws -> String {
        let databaseConfiguration = configuration.database
        try await ServiceChecks.checkDatabase(databaseConfiguration, logger: logger)
        let report: MigrationReport
        do {
            report = try await Migrator(configuration: databaseConfiguration, logger: logger).migrate()
        } catch let error as StoreError where error.code == .unreachable {
            throw CalsyncAppError.unavailable(error.message)
        } catch let error as StoreError {
            throw CalsyncAppError.failed(error.message)
        }
        let target = databaseConfiguration.redactedURL
            + (databaseConfiguration.schema.map { " (schema \($0))" } ?? "")
        if report.applied.isEmpty {
            return "\(target): up to date at version \(report.currentVersion)"
        }
        var lines = report.applied.map { "applied \($0.version) \($0.name)" }
        lines.append("\(target): now at version \(report.currentVersion)")
        return lines.joined(separator: "\n")
    }
}
