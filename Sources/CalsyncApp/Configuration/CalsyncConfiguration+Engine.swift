import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import CalsyncSync

extension CalsyncConfiguration {
    /// The job types of contract §2 that every worker knows (their ready lists are always reported).
    package static let contractJobTypes: [String] = ContractJobTypes.all

    /// The queue engine's settings from this configuration.
    package var queueConfiguration: QueueConfiguration {
        var queue = QueueConfiguration(prefix: redis.prefix)
        queue.leaseDuration = worker.leaseDuration
        queue.maxLeaseExpiries = worker.maxLeaseExpiries
        queue.retry = .exponentialJitter(base: retry.base, cap: retry.maxDelay, maxAttempts: retry.maxAttempts)
        queue.maxJobAge = worker.jobMaxAge
        queue.maxDeferrals = worker.maxDeferrals
        queue.maxJobBytes = worker.maxJobBytes
        queue.deadLetterMaxCount = deadLetter.maxCount
        queue.deadLetterMaxAge = .seconds(deadLetter.maxAgeDays * 86_400)
        return queue
    }

    /// The worker loop's settings from this configuration.
    package var workerConfiguration: WorkerConfiguration {
        var configuration = WorkerConfiguration()
        configuration.concurrency = worker.concurrency
        configuration.perTypeLimits = worker.typeConcurrency
        configuration.shutdownGrace = worker.shutdownGrace
        configuration.jobTimeout = worker.jobTimeout
        configuration.unknownTypeSweepInterval = worker.unknownTypeSweep
        return configuration
    }
}
