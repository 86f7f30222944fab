import CalsyncApp
import CalsyncScheduler
import Foundation
import Testing

/// The scheduler's CALSYNC_* variables: defaults, parsing, documentation.
@Suite("Scheduler configuration")
struct SchedulerConfigurationTests {
    static let variables = [
        "CALSYNC_SCHEDULER_TICK_SECONDS", "CALSYNC_IMPORT_INTERVAL_SECONDS", "CALSYNC_REFRESH_MARGIN_SECONDS",
        "CALSYNC_FULL_RESYNC_HOURS", "CALSYNC_SCHEDULER_LEADER_TTL_SECONDS", "CALSYNC_SCHEDULER_BATCH_SIZE",
    ]

    @Test("defaults, values from the environment, and a bad value named in the error")
    func parsing() async throws {
        let defaults = try await CalsyncConfiguration.load(requiring: [], environment: [:]).scheduler
        #expect(defaults.tick == .seconds(15) && defaults.importIntervalSeconds == 300)
        #expect(defaults.refreshMarginSeconds == 600 && defaults.fullResyncAfterSeconds == 86_400)
        #expect(defaults.leaderTTL == .seconds(10) && defaults.batchSize == 5000 && defaults.prefix == "calsync")

        let set = try await CalsyncConfiguration.load(
                requiring: [],
                environment: [
                    "CALSYNC_SCHEDULER_TICK_SECONDS": "2", "CALSYNC_IMPORT_INTERVAL_SECONDS": "60",
                    "CALSYNC_REFRESH_MARGIN_SECONDS": "120", "CALSYNC_FULL_RESYNC_HOURS": "6",
                    "CALSYNC_SCHEDULER_LEADER_TTL_SECONDS": "3", "CALSYNC_SCHEDULER_BATCH_SIZE": "100",
                    "CALSYNC_REDIS_PREFIX": "{calsync}",
                ]
            ).scheduler
        #expect(set.tick == .seconds(2) && set.importIntervalSeconds == 60 && set.refreshMarginSeconds == 120)
        #expect(set.fullResyncAfterSeconds == 21_600 && set.leaderTTL == .seconds(3) && set.batchSize == 100)
        #expect(set.prefix == "{calsync}")

        await #expect(throws: ConfigurationError.self) {
            _ = try await CalsyncConfiguration.load(requiring: [], environment: ["CALSYNC_SCHEDULER_LEADER_TTL_SECONDS": "0"])
        }
        do {
            _ = try await CalsyncConfiguration.load(requiring: [], environment: ["CALSYNC_IMPORT_INTERVAL_SECONDS": "soon"])
            Issue.record("a malformed interval was accepted")
        } catch let error as ConfigurationError {
            #expect(error.message.contains("CALSYNC_IMPORT_INTERVAL_SECONDS"))
        }
    }

    @Test("every scheduler variable is documented in the example file and the README")
    func documented() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let example = try String(contentsOf: root.appendingPathComponent("config/calsync.env.example"), encoding: .utf8)
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        for variable in Self.variables {
            #expect(example.contains(variable), "config/calsync.env.example does not document \(variable)")
            #expect(readme.contains(variable), "README.md does not document \(variable)")
        }
        let procfile = try String(contentsOf: root.appendingPathComponent("Procfile"), encoding: .utf8)
        #expect(procfile.contains("scheduler: calsync scheduler") && procfile.contains("worker: calsync worker"))
        #expect(procfile.contains("release: calsync migrate"))
    }
}
