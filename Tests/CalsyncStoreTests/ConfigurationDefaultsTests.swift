import CalsyncScheduler
import CalsyncJobs
import CalsyncApp
import CalsyncHTTP
import CalsyncQueue
import CalsyncStore
import CalsyncSync
import Foundation
import Testing

/// Each component's configuration owns its defaults; an unset variable leaves the component's default.
@Suite("Configuration defaults")
struct ConfigurationDefaultsTests {
    @Test("the refresh margin has one default, the documented 600 s, for the worker and the scheduler alike")
    func refreshMargin() async throws {
        #expect(SyncConfiguration().refreshMargin == .seconds(600))
        #expect(Scheduler.Configuration(prefix: "p").refreshMarginSeconds == 600)
        let config = try await CalsyncConfiguration.load(requiring: [], environment: [:])
        #expect(config.scheduler.refreshMargin == 600)
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/calsync.env.example")
        #expect(try String(contentsOf: example, encoding: .utf8).contains("# CALSYNC_REFRESH_MARGIN_SECONDS=600\n"))
    }

    @Test("an empty environment hands every component its own defaults")
    func componentsKeepTheirDefaults() async throws {
        let config = try await CalsyncConfiguration.load(requiring: [], environment: [:])
        let queue = config.queueConfiguration
        let queueDefaults = QueueConfiguration()
        #expect(queue.prefix == queueDefaults.prefix && queue.leaseDuration == queueDefaults.leaseDuration)
        #expect(queue.maxLeaseExpiries == queueDefaults.maxLeaseExpiries && queue.maxJobAge == queueDefaults.maxJobAge)
        #expect(queue.maxDeferrals == queueDefaults.maxDeferrals && queue.maxJobBytes == queueDefaults.maxJobBytes)
        #expect(queue.deadLetterMaxCount == queueDefaults.deadLetterMaxCount)
        #expect(queue.deadLetterMaxAge == queueDefaults.deadLetterMaxAge)
        #expect(queue.retry.base == queueDefaults.retry.base && queue.retry.cap == queueDefaults.retry.cap)
        #expect(queue.retry.maxAttempts == queueDefaults.retry.maxAttempts)

        let worker = config.workerConfiguration
        let workerDefaults = WorkerConfiguration()
        #expect(worker.concurrency == workerDefaults.concurrency && worker.shutdownGrace == workerDefaults.shutdownGrace)
        #expect(worker.jobTimeout == workerDefaults.jobTimeout)
        #expect(worker.unknownTypeSweepInterval == workerDefaults.unknownTypeSweepInterval)

        let sync = SyncConfiguration()
        #expect(config.importWindow.pastDays == sync.importPastDays && config.importWindow.futureDays == sync.importFutureDays)
        #expect(config.worker.providerWriteSettle == sync.providerWriteSettle)
        #expect(config.worker.providerTimeout == HTTPTransport.Configuration().requestTimeout)

        let scheduler = SchedulerAssembly.schedulerConfiguration(config)
        let schedulerDefaults = Scheduler.Configuration(prefix: queueDefaults.prefix)
        #expect(scheduler.tick == schedulerDefaults.tick && scheduler.importIntervalSeconds == schedulerDefaults.importIntervalSeconds)
        #expect(scheduler.refreshMarginSeconds == schedulerDefaults.refreshMarginSeconds)
        #expect(scheduler.fullResyncAfterSeconds == schedulerDefaults.fullResyncAfterSeconds)
        #expect(scheduler.leaderTTL == schedulerDefaults.leaderTTL && scheduler.batchSize == schedulerDefaults.batchSize)

        #expect(CalsyncConfiguration.contractJobTypes == ContractJobTypes.all)

        let database = try config.databaseConfiguration()
        let databaseDefaults = DatabaseConfiguration()
        #expect(database.connectTimeout == databaseDefaults.connectTimeout)
        #expect(database.maximumConnections == databaseDefaults.maximumConnections && database.timeouts == databaseDefaults.timeouts)
    }
}
