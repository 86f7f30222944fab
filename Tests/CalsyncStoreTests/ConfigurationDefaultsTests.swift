import CalsyncScheduler
import CalsyncJobs
import CalsyncApp
import CalsyncGoogle
import CalsyncMicrosoft
import CalsyncRedis
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
        #expect(config.sync.refreshMargin == .seconds(600) && config.scheduler.refreshMarginSeconds == 600)
        let set = try await CalsyncConfiguration.load(requiring: [], environment: ["CALSYNC_REFRESH_MARGIN_SECONDS": "120"])
        #expect(set.sync.refreshMargin == .seconds(120) && set.scheduler.refreshMarginSeconds == 120)
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("config/calsync.env.example")
        #expect(try String(contentsOf: example, encoding: .utf8).contains("# CALSYNC_REFRESH_MARGIN_SECONDS=600\n"))
    }

    @Test("an empty environment hands every component its own defaults")
    func componentsKeepTheirDefaults() async throws {
        let config = try await CalsyncConfiguration.load(requiring: [], environment: [:])
        let queue = config.queue
        let queueDefaults = QueueConfiguration()
        #expect(queue.prefix == queueDefaults.prefix && queue.leaseDuration == queueDefaults.leaseDuration)
        #expect(queue.maxLeaseExpiries == queueDefaults.maxLeaseExpiries && queue.maxJobAge == queueDefaults.maxJobAge)
        #expect(queue.maxDeferrals == queueDefaults.maxDeferrals && queue.maxJobBytes == queueDefaults.maxJobBytes)
        #expect(queue.deadLetterMaxCount == queueDefaults.deadLetterMaxCount)
        #expect(queue.deadLetterMaxAge == queueDefaults.deadLetterMaxAge)
        #expect(queue.retry.base == queueDefaults.retry.base && queue.retry.cap == queueDefaults.retry.cap)
        #expect(queue.retry.maxAttempts == queueDefaults.retry.maxAttempts)

        let worker = config.worker
        let workerDefaults = WorkerConfiguration()
        #expect(worker.concurrency == workerDefaults.concurrency && worker.shutdownGrace == workerDefaults.shutdownGrace)
        #expect(worker.jobTimeout == workerDefaults.jobTimeout && worker.perTypeLimits == workerDefaults.perTypeLimits)
        #expect(worker.unknownTypeSweepInterval == workerDefaults.unknownTypeSweepInterval)

        let sync = SyncConfiguration()
        #expect(config.sync.importPastDays == sync.importPastDays && config.sync.importFutureDays == sync.importFutureDays)
        #expect(config.sync.providerWriteSettle == sync.providerWriteSettle)
        // Derived, not defaulted: a lock lives one lease, a write window is two request timeouts.
        #expect(config.sync.lockTTL == queueDefaults.leaseDuration)
        #expect(config.sync.providerWriteWindow == HTTPTransport.Configuration().requestTimeout * 2)
        #expect(config.google.http.requestTimeout == HTTPTransport.Configuration().requestTimeout)
        #expect(config.microsoft.http.requestTimeout == HTTPTransport.Configuration().requestTimeout)
        #expect(config.google.quota == GoogleCalendarProvider.Configuration(clientID: "", clientSecret: "").quota)
        #expect(config.microsoft.quota == MicrosoftCalendarProvider.Configuration(clientID: "", clientSecret: "").quota)

        let scheduler = config.scheduler
        let schedulerDefaults = Scheduler.Configuration(prefix: queueDefaults.prefix)
        #expect(scheduler.tick == schedulerDefaults.tick && scheduler.importIntervalSeconds == schedulerDefaults.importIntervalSeconds)
        #expect(scheduler.refreshMarginSeconds == schedulerDefaults.refreshMarginSeconds)
        #expect(scheduler.fullResyncAfterSeconds == schedulerDefaults.fullResyncAfterSeconds)
        #expect(scheduler.leaderTTL == schedulerDefaults.leaderTTL && scheduler.batchSize == schedulerDefaults.batchSize)

        #expect(CalsyncConfiguration.contractJobTypes == ContractJobTypes.all)

        let database = config.database
        let databaseDefaults = DatabaseConfiguration()
        #expect(database.connectTimeout == databaseDefaults.connectTimeout)
        #expect(database.maximumConnections == databaseDefaults.maximumConnections && database.timeouts == databaseDefaults.timeouts)
        #expect(config.redis.host == RedisConfiguration().host && config.redis.port == RedisConfiguration().port)
    }

    @Test("the provider timeout reaches both clients and the write window")
    func providerTimeout() async throws {
        let config = try await CalsyncConfiguration.load(
            requiring: [], environment: ["CALSYNC_PROVIDER_TIMEOUT_SECONDS": "7", "CALSYNC_PROVIDER_WRITE_SETTLE_SECONDS": "3"])
        #expect(config.google.http.requestTimeout == .seconds(7) && config.microsoft.http.requestTimeout == .seconds(7))
        #expect(config.sync.providerWriteWindow == .seconds(14) && config.sync.providerWriteSettle == .seconds(3))
    }
}
