import CalsyncJobs
import CalsyncRedis
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Runs jobs: claims them with leases, runs their handlers (at most `concurrency` at once, per-type
/// limits), renews leases, retries/defers/dead-letters failures, and on graceful shutdown stops claiming,
/// lets in-flight jobs finish within `shutdownGrace` and hands the rest back.
package struct JobWorker: Service {
    private let engine: WorkerEngine

    /// Creates a worker; `knownTypes` are types valid in this deployment (lists of other types are dead-lettered).
    package init(queue: JobQueue, handlers: [any JobHandler], knownTypes: Set<String>, configuration: WorkerConfiguration, logger: Logger) {
        self.engine = WorkerEngine(queue: queue, handlers: handlers, knownTypes: knownTypes, configuration: configuration, logger: logger, observer: nil)
    }

    /// Creates a worker that reports each task's claim-to-end time (benchmarks).
    init(
        queue: JobQueue, handlers: [any JobHandler], knownTypes: Set<String>, configuration: WorkerConfiguration, logger: Logger,
        observer: @escaping @Sendable (Duration) -> Void
    ) {
        self.engine = WorkerEngine(queue: queue, handlers: handlers, knownTypes: knownTypes, configuration: configuration, logger: logger, observer: observer)
    }

    /// Runs until a graceful shutdown (or cancellation) and the hand-back of unfinished jobs.
    package func run() async throws {
        try await engine.run()
    }

    /// Jobs in flight now, per type (the heartbeat's).
    package var inFlightByType: [String: Int] { engine.inFlightByType }
}

/// The worker's state and loops (a final class guarding its state with a Mutex).
final class WorkerEngine: Sendable {
    private struct Held {
        let type: String
        let fence: String
        /// The run's deadline, stop flag and lease estimate (what the handler's provider calls check).
        let run: JobRun
        /// The locks the job holds (renewed with the lease).
        let locks: JobHeldLocks
        /// Cancels the handler's task; set once the handler started.
        var cancel: (@Sendable () -> Void)?
    }

    private struct State {
        var inFlight: [String: Held] = [:]
        var perType: [String: Int] = [:]
        var stopping = false
        var waiter: CheckedContinuation<Void, Never>?
        var wakePending = false
        var sweepTypes: [String] = []
        /// After a graceful shutdown's grace (plus a second), Redis writes are no longer retried.
        var stopDeadline: ContinuousClock.Instant?
        var rotation = 0
        /// The isolated task running alone: nothing more is claimed until it ends.
        var aloneTask: String?
    }

    private let queue: JobQueue
    private let handlers: [String: any JobHandler]
    private let handlerTypes: [String]
    private let knownTypes: Set<String>
    private let configuration: WorkerConfiguration
    private let logger: Logger
    private let metrics: WorkerMetrics
    private let state = Mutex(State())
    private let observer: (@Sendable (Duration) -> Void)?
    /// Acks of jobs finishing at the same time go to Redis in one script call.
    private let acks: CoalescingBatcher<PendingAck, Bool>

    private struct PendingAck: Sendable {
        let tid: String
        let fence: String
        let locks: [JobLock]
    }

    init(
        queue: JobQueue, handlers: [any JobHandler], knownTypes: Set<String>, configuration: WorkerConfiguration, logger: Logger,
        observer: (@Sendable (Duration) -> Void)?
    ) {
        self.observer = observer
        self.acks = CoalescingBatcher(maxBatch: 256) { [queue] items in
            do {
                let held = try await queue.ack(items.map { ($0.tid, $0.fence) }, releasing: items.flatMap(\.locks))
                return held.map { .success($0) }
            } catch {
                return items.map { _ in .failure(error) }
            }
        }
        var byType: [String: any JobHandler] = [:]
        for handler in handlers { byType[handler.jobType] = handler }
        self.queue = queue
        self.handlers = byType
        self.handlerTypes = byType.keys.sorted()
        self.knownTypes = knownTypes.union(byType.keys)
        var configuration = configuration
        configuration.concurrency = max(1, configuration.concurrency)
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: LogKey.workerID] = "\(configuration.workerID)"
        self.logger = logger
        self.metrics = WorkerMetrics(types: self.knownTypes)
    }

    /// Jobs in flight now, per type.
    var inFlightByType: [String: Int] { state.withLock { $0.perType.filter { $0.value > 0 } } }

    // MARK: - Lifecycle

    func run() async throws {
        logger.info(
            "worker started",
            metadata: [
                LogKey.workerConcurrency: "\(configuration.concurrency)",
                LogKey.workerTypes: "\(handlerTypes.joined(separator: ","))",
            ])
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await self.runLoops()
            } onCancel: {
                self.beginStop()
            }
        } onGracefulShutdown: {
            self.beginStop()
        }
        logger.info("worker stopped")
    }

    private func beginStop() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
            state.stopping = true
            let waiter = state.waiter
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    private var isStopping: Bool { state.withLock { $0.stopping } }

    private func runLoops() async {
        await withDiscardingTaskGroup { background in
            background.addTask { await self.renewLoop() }
            background.addTask { await self.maintenanceLoop() }
            await withDiscardingTaskGroup { jobs in
                await self.claimLoop(&jobs)
                await self.drain(&jobs)
            }
            background.cancelAll()
        }
    }

    // MARK: - Claiming

    private func claimLoop(_ jobs: inout DiscardingTaskGroup) async {
        var failures = 0
        var idleWait = Duration.milliseconds(1)
        while !isStopping {
            let (slots, total) = freeSlots()
            if total == 0 {
                await waitForSlot()
                continue
            }
            do {
                let claimStarted = ContinuousClock.now
                let held = state.withLock { $0.inFlight.count }
                let (now, tasks) = try await queue.claim(workerID: configuration.workerID, slots: slots, total: total, held: held)
                if failures > 0 {
                    logger.info("Redis is reachable again; claiming resumed", metadata: [LogKey.redisFailures: "\(failures)"])
                    failures = 0
                }
                if tasks.isEmpty {
                    try? await Task.sleep(for: min(idleWait, configuration.idlePollInterval))
                    idleWait = min(idleWait * 2, configuration.idlePollInterval)
                    continue
                }
                idleWait = .milliseconds(1)
                if let alone = tasks.first(where: \.runsAlone) {
                    logger.warning(
                        "running an isolated job alone: its lease expired twice beside other jobs (a worker died); claiming resumes when it ends",
                        metadata: [LogKey.taskID: "\(alone.tid)", LogKey.jobType: "\(alone.type)"])
                }
                let accepted = register(tasks, claimStarted: claimStarted)
                let claimedAt = ContinuousClock.now
                for (task, held) in accepted {
                    jobs.addTask {
                        await self.process(task, held: held, claimedAtMs: now)
                        self.observer?(ContinuousClock.now - claimedAt)
                    }
                }
            } catch {
                failures += 1
                if failures == 1 || failures % 20 == 0 {
                    logger.warning(
                        "cannot claim jobs; retrying with backoff",
                        metadata: [LogKey.error: "\(error)", LogKey.redisFailures: "\(failures)"])
                }
                try? await Task.sleep(for: Self.backoff(failures))
            }
        }
    }

    /// Capped exponential backoff: 50 ms · 2^(n-1), at most 2 s.
    static func backoff(_ failures: Int) -> Duration {
        .milliseconds(min(2_000, 50 << min(max(failures - 1, 0), 6)))
    }

    /// The (type, cap) pairs for the next claim, rotated for fairness, plus unknown-type sweeps.
    private func freeSlots() -> ([(type: String, cap: Int)], Int) {
        state.withLock { state in
            if state.aloneTask != nil { return ([], 0) }
            let free = configuration.concurrency - state.inFlight.count
            var slots: [(type: String, cap: Int)] = []
            var total = 0
            if free > 0, !handlerTypes.isEmpty {
                let count = handlerTypes.count
                state.rotation = (state.rotation + 1) % count
                for offset in 0..<count {
                    let type = handlerTypes[(state.rotation + offset) % count]
                    let limit = configuration.perTypeLimits[type] ?? configuration.concurrency
                    let cap = min(free, limit - (state.perType[type] ?? 0))
                    if cap > 0 { slots.append((type, cap)) }
                }
                if !slots.isEmpty { total = free }
            }
            for type in state.sweepTypes where state.perType[type, default: 0] < 50 {
                slots.append((type, 50))
                total += 50
            }
            return (slots, total)
        }
    }

    private func register(_ tasks: [ClaimedTask], claimStarted: ContinuousClock.Instant) -> [(ClaimedTask, Held)] {
        let lease = queue.configuration.leaseDuration
        let deadline = claimStarted + configuration.jobTimeout
        return state.withLock { state in
            tasks.map { task in
                let held = Held(
                    type: task.type, fence: task.fence, run: JobRun(deadline: deadline, heldUntil: claimStarted + lease),
                    locks: JobHeldLocks(), cancel: nil)
                state.inFlight[task.tid] = held
                state.perType[task.type, default: 0] += 1
                if task.runsAlone { state.aloneTask = task.tid }
                return (task, held)
            }
        }
    }

    /// Stops a running job from outside: marks its run (so its next provider call refuses) and cancels its handler.
    private func stopRun(_ tid: String, _ reason: JobRun.StopReason) {
        let cancel: (@Sendable () -> Void)? = state.withLock { state in
            guard let held = state.inFlight[tid], held.run.markStopped(reason) else { return nil }
            return held.cancel
        }
        cancel?()
    }

    /// Runs the handler in its own task, so that a lost lease, the deadline or a shutdown can cancel this job alone.
    private func runHandler(
        _ handler: any JobHandler, _ job: Job, context: JobContext, tid: String, run: JobRun
    ) async throws -> JobOutcome {
        let task = Task { try await JobRun.$current.withValue(run) { try await handler.handle(job, context: context) } }
        let cancel: @Sendable () -> Void = { task.cancel() }
        state.withLock { state in state.inFlight[tid]?.cancel = cancel }
        if run.stopReason != nil { task.cancel() }
        return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
    }

    /// Takes a task out of the in-flight set; false when someone (shutdown hand-back) already did.
    private func release(_ tid: String) -> Bool {
        let (owned, waiter): (Bool, CheckedContinuation<Void, Never>?) = state.withLock { state in
            guard let held = state.inFlight.removeValue(forKey: tid) else { return (false, nil) }
            state.perType[held.type, default: 1] -= 1
            if state.aloneTask == tid { state.aloneTask = nil }
            let waiter = state.waiter
            state.waiter = nil
            if waiter == nil { state.wakePending = true }
            return (true, waiter)
        }
        waiter?.resume()
        return owned
    }

    private func waitForSlot() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = state.withLock { state -> Bool in
                if state.wakePending || state.stopping {
                    state.wakePending = false
                    return true
                }
                state.waiter = continuation
                return false
            }
            if resumeNow { continuation.resume() }
        }
        state.withLock { $0.wakePending = false }
    }

    // MARK: - Running one job

    private func process(_ task: ClaimedTask, held: Held, claimedAtMs: Int64) async {
        let attempt = task.attempts + 1
        guard let handler = handlers[task.type] else {
            let id: String?
            let redacted: [UInt8]?
            switch JobEnvelope.check(task.raw, listType: task.type) {
            case .valid(let jobID, _, _, let r): (id, redacted) = (jobID, r)
            case .invalid(_, let jobID, let r): (id, redacted) = (jobID, r)
            }
            await finish(task, .dead, reason: "invalid_job", error: "unknown job type \(task.type)", recordID: id, redacted: redacted)
            return
        }
        switch JobEnvelope.check(task.raw, listType: task.type) {
        case .invalid(let reason, let id, let redacted):
            var logger = self.logger
            logger[metadataKey: LogKey.jobType] = "\(task.type)"
            if let id { logger[metadataKey: LogKey.jobID] = "\(id)" }
            logger.warning("invalid job dead-lettered", metadata: [LogKey.error: "\(reason)"])
            await finish(task, .dead, reason: "invalid_job", error: reason, recordID: id, redacted: redacted)
        case .valid(let id, let enqueuedAt, let payload, let redacted):
            if let redacted {
                try? await shielded { try await self.queue.annotate(tid: task.tid, fence: task.fence, redacted: redacted) }
            }
            if attempt == 1, task.deferrals == 0, let enqueuedAt {
                metrics.queueLatency(task.type, milliseconds: claimedAtMs - Int64(enqueuedAt.timeIntervalSince1970 * 1000))
            }
            var logger = self.logger
            logger[metadataKey: LogKey.jobID] = "\(id)"
            logger[metadataKey: LogKey.jobType] = "\(task.type)"
            let job = Job(id: id, type: task.type, enqueuedAt: enqueuedAt, payload: payload, raw: task.raw, attempt: attempt)
            let context = JobContext(logger: logger, workerID: configuration.workerID, deferrals: task.deferrals, heldLocks: held.locks)
            logger.debug("job started", metadata: [LogKey.jobAttempt: "\(attempt)"])
            let started = ContinuousClock.now
            do {
                let outcome = try await runHandler(handler, job, context: context, tid: task.tid, run: held.run)
                metrics.duration(task.type, nanoseconds: (ContinuousClock.now - started).nanoseconds)
                switch outcome {
                case .completed:
                    metrics.completed(task.type)
                    logger.debug("job completed")
                case .skipped(let why):
                    metrics.skipped(task.type)
                    logger.debug("job skipped", metadata: [LogKey.jobSkipReason: "\(why)"])
                }
                await finish(task, .ack, logger: logger, locks: context.heldLocks.take())
            } catch {
                await releaseLocks(context.heldLocks.take(), logger: logger)
                if let reason = held.run.stopReason {
                    await stopped(task, job: job, reason: reason, redacted: redacted, logger: logger)
                    return
                }
                if let error = error as? JobError {
                    metrics.duration(task.type, nanoseconds: (ContinuousClock.now - started).nanoseconds)
                    await handleFailure(task, job: job, error: error, redacted: redacted, logger: logger)
                    return
                }
                if isStopping, Task.isCancelled || error is CancellationError {
                    await finish(task, .handback, logger: logger)
                    return
                }
                metrics.duration(task.type, nanoseconds: (ContinuousClock.now - started).nanoseconds)
                let wrapped = JobError.retryable(.unexpectedError, SafeText.describe(error))
                await handleFailure(task, job: job, error: wrapped, redacted: redacted, logger: logger)
            }
        }
    }

    /// Ends a run that was stopped from outside: a shutdown hands it back, a deadline retries it (an attempt),
    /// a lost lease or lock defers it (no attempt: the fence is usually stale and nothing changes).
    private func stopped(_ task: ClaimedTask, job: Job, reason: JobRun.StopReason, redacted: [UInt8]?, logger: Logger) async {
        let stop = JobRunStopped(reason: reason)
        switch reason {
        case .shutdown:
            await finish(task, .handback, logger: logger)
        case .deadline:
            logger.warning("job cancelled at its deadline", metadata: [LogKey.jobTimeoutSeconds: "\(configuration.jobTimeout.components.seconds)"])
            await handleFailure(task, job: job, error: .retryable(.jobTimeout, stop.description), redacted: redacted, logger: logger)
        case .leaseLost:
            logger.warning("job stopped: its lease or lock was lost")
            await finish(task, .defer, delay: .milliseconds(500), error: stop.description, recordID: job.id, redacted: redacted, logger: logger)
        }
    }

    private func handleFailure(_ task: ClaimedTask, job: Job, error: JobError, redacted: [UInt8]?, logger: Logger) async {
        let metadata: Logger.Metadata = [LogKey.errorCode: "\(error.code)", LogKey.jobAttempt: "\(job.attempt)"]
        switch error.disposition {
        case .retryable(let retryAfter):
            metrics.failed(task.type, kind: "retryable")
            let delay = queue.configuration.retry.delay(afterAttempt: job.attempt, retryAfter: retryAfter)
            logger.info("job failed; will retry", metadata: metadata.merging([LogKey.retryDelayMilliseconds: "\(delay.milliseconds)"]) { $1 })
            await finish(task, .retry, delay: delay, error: error.message, httpStatus: error.httpStatus, recordID: job.id, redacted: redacted, logger: logger)
        case .deferred(let duration):
            logger.debug("job deferred", metadata: metadata)
            await finish(task, .defer, delay: duration, error: error.message, httpStatus: error.httpStatus, recordID: job.id, redacted: redacted, logger: logger)
        case .permanent(let reason):
            metrics.failed(task.type, kind: "permanent")
            logger.warning("job failed permanently", metadata: metadata)
            await finish(task, .dead, reason: reason, error: error.message, httpStatus: error.httpStatus, recordID: job.id, redacted: redacted, logger: logger)
        case .invalid:
            metrics.failed(task.type, kind: "invalid")
            logger.warning("job is invalid", metadata: metadata)
            await finish(task, .dead, reason: "invalid_job", error: error.message, httpStatus: error.httpStatus, recordID: job.id, redacted: redacted, logger: logger)
        }
    }

    private enum Finish {
        case ack, retry, `defer`, dead, handback
    }

    /// Ends a run in Redis (once per task: whoever releases it from the in-flight set), retrying on Redis
    /// errors for about one lease; a stale fence (lease lost) changes nothing.
    private func finish(
        _ task: ClaimedTask, _ kind: Finish, delay: Duration = .zero, reason: String = "", error: String = "",
        httpStatus: Int? = nil, recordID: String? = nil, redacted: [UInt8]? = nil, logger: Logger? = nil,
        locks: [JobLock] = []
    ) async {
        guard release(task.tid) else {
            await releaseLocks(locks, logger: logger ?? self.logger)
            return
        }
        let logger = logger ?? self.logger
        let queue = self.queue
        let giveUpAt = ContinuousClock.now + queue.configuration.leaseDuration
        var failures = 0
        while true {
            do {
                let result: JobQueue.FailResult
                switch kind {
                case .ack:
                    let acks = self.acks
                    let acked = try await shielded { try await acks.submit(PendingAck(tid: task.tid, fence: task.fence, locks: locks)) }
                    result = acked ? .scheduled : .stale
                case .retry:
                    result = try await shielded {
                        try await queue.fail(.retry, tid: task.tid, fence: task.fence, delay: delay, error: error, httpStatus: httpStatus, recordID: recordID, redacted: redacted)
                    }
                case .defer:
                    result = try await shielded {
                        try await queue.fail(.defer, tid: task.tid, fence: task.fence, delay: delay, error: error, httpStatus: httpStatus, recordID: recordID, redacted: redacted)
                    }
                case .dead:
                    result = try await shielded {
                        try await queue.fail(.dead, tid: task.tid, fence: task.fence, reason: reason, error: error, httpStatus: httpStatus, recordID: recordID, redacted: redacted)
                    }
                case .handback:
                    result = try await shielded { try await queue.fail(.handback, tid: task.tid, fence: task.fence) }
                }
                record(kind, result: result, task: task, reason: reason, logger: logger)
                return
            } catch {
                failures += 1
                let stopDeadline = state.withLock { $0.stopDeadline }
                if ContinuousClock.now > giveUpAt || stopDeadline.map({ ContinuousClock.now > $0 }) == true {
                    logger.warning(
                        "cannot record a job's end in Redis; its lease will expire and it will run again",
                        metadata: [LogKey.error: "\(error)"])
                    return
                }
                if failures == 1 {
                    logger.warning("cannot record a job's end in Redis; retrying", metadata: [LogKey.error: "\(error)"])
                }
                let pause = Self.backoff(failures)
                try? await shielded { try await Task.sleep(for: pause) }
            }
        }
    }

    private func record(_ kind: Finish, result: JobQueue.FailResult, task: ClaimedTask, reason: String, logger: Logger) {
        if result == .stale {
            logger.warning("job's lease was lost before it ended; another worker owns it now (nothing changed)")
            return
        }
        switch (kind, result) {
        case (.retry, .scheduled): metrics.retried(task.type)
        case (.defer, .scheduled): metrics.deferred(task.type)
        case (.handback, _):
            metrics.handedBack(task.type)
            logger.info("job handed back")
        case (_, .dead(let recordID)):
            let finalReason: String
            switch kind {
            case .retry: finalReason = "attempts_exhausted"
            case .defer: finalReason = "deferrals_exhausted"
            default: finalReason = reason
            }
            metrics.dead(task.type, reason: finalReason)
            logger.warning("job dead-lettered", metadata: [LogKey.deadID: "\(recordID)", LogKey.deadReason: "\(finalReason)"])
        default: break
        }
    }

    /// Releases locks a job handed over, now (a failure leaves them to their TTL).
    private func releaseLocks(_ locks: [JobLock], logger: Logger) async {
        guard !locks.isEmpty else { return }
        let queue = self.queue
        do {
            try await shielded { try await queue.releaseLocks(locks) }
        } catch {
            logger.debug("could not release a job's locks; they expire by themselves", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// Runs `body` in an unstructured task so a cancelled caller cannot abandon a Redis write midway.
    private func shielded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task { try await body() }.value
    }

    // MARK: - Shutdown

    private func drain(_ jobs: inout DiscardingTaskGroup) async {
        let deadline = ContinuousClock.now + configuration.shutdownGrace
        state.withLock { $0.stopDeadline = deadline + .seconds(1) }
        let pending = state.withLock { $0.inFlight.count }
        if pending > 0 {
            logger.info("graceful shutdown: waiting for in-flight jobs", metadata: [LogKey.workerInFlight: "\(pending)"])
        }
        while state.withLock({ !$0.inFlight.isEmpty }), ContinuousClock.now < deadline {
            try? await shielded { try await Task.sleep(for: .milliseconds(5)) }
        }
        // Still running after the grace: cancel their handlers first (no further provider call), give them a
        // moment to hand themselves back, then hand back whatever did not end.
        let running: [String] = state.withLock { Array($0.inFlight.keys) }
        if running.isEmpty { return }
        logger.info("graceful shutdown: cancelling unfinished jobs", metadata: [LogKey.workerInFlight: "\(running.count)"])
        for tid in running { stopRun(tid, .shutdown) }
        let settle = ContinuousClock.now + Self.cancelSettleTime
        while state.withLock({ !$0.inFlight.isEmpty }), ContinuousClock.now < settle {
            try? await shielded { try await Task.sleep(for: .milliseconds(5)) }
        }
        let unfinished: [(String, Held)] = state.withLock { Array($0.inFlight) }
        if !unfinished.isEmpty {
            logger.info("graceful shutdown: handing back unfinished jobs", metadata: [LogKey.workerInFlight: "\(unfinished.count)"])
            await withDiscardingTaskGroup { group in
                for (tid, held) in unfinished {
                    group.addTask {
                        let task = ClaimedTask(type: held.type, tid: tid, fence: held.fence, attempts: 0, deferrals: 0, raw: [])
                        await self.finish(task, .handback)
                    }
                }
            }
        }
        jobs.cancelAll()
    }

    /// How long cancelled handlers get to end by themselves at shutdown before their jobs are handed back.
    static let cancelSettleTime: Duration = .seconds(2)

    // MARK: - Background loops

    private func renewLoop() async {
        let interval = max(Duration.milliseconds(50), queue.configuration.leaseDuration / 3)
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
            let now = ContinuousClock.now
            let (held, late): ([(tid: String, fence: String, locks: [JobLock], run: JobRun)], [String]) = state.withLock { state in
                var held: [(tid: String, fence: String, locks: [JobLock], run: JobRun)] = []
                var late: [String] = []
                for (tid, job) in state.inFlight {
                    if job.run.deadline <= now { late.append(tid) }
                    held.append((tid, job.fence, job.locks.current(), job.run))
                }
                return (held, late)
            }
            for tid in late { stopRun(tid, .deadline) }
            if held.isEmpty { continue }
            do {
                let lost = Set(try await queue.renew(held.map { ($0.tid, $0.fence, $0.locks) }))
                for job in held where !lost.contains(job.tid) {
                    job.run.renewed(startedAt: now, lease: queue.configuration.leaseDuration)
                }
                if !lost.isEmpty {
                    logger.warning(
                        "leases or locks lost (renewals failed for a whole lease, or Redis lost them); stopping those jobs",
                        metadata: [LogKey.workerLost: "\(lost.count)"])
                    for tid in lost { stopRun(tid, .leaseLost) }
                }
            } catch {
                logger.warning("cannot renew leases", metadata: [LogKey.error: "\(error)"])
            }
        }
    }

    /// Updates the queue gauges every `maintenanceInterval` (known types only), and every
    /// `unknownTypeSweepInterval` lets one worker of the fleet look for jobs of types nobody knows.
    private func maintenanceLoop() async {
        var nextSweep = ContinuousClock.now
        while !Task.isCancelled {
            do {
                let stats = try await queue.stats(knownTypes: Array(knownTypes), discoverTypes: false)
                metrics.depth(stats)
            } catch {
                logger.debug("queue maintenance failed", metadata: [LogKey.error: "\(error)"])
            }
            if ContinuousClock.now >= nextSweep {
                nextSweep = ContinuousClock.now + configuration.unknownTypeSweepInterval
                await sweepUnknownTypes()
            }
            do {
                try await Task.sleep(for: configuration.maintenanceInterval)
            } catch {
                return
            }
        }
    }

    /// Scans the keyspace (ready lists and scheduled sets) for job types no worker of this deployment knows,
    /// when this worker wins the fleet's sweep lock; their jobs are then claimed and dead-lettered.
    private func sweepUnknownTypes() async {
        do {
            guard let unknown = try await queue.unknownTypes(known: knownTypes, owner: configuration.workerID, every: configuration.unknownTypeSweepInterval)
            else { return }
            if !unknown.isEmpty {
                logger.warning("jobs of unknown types found; dead-lettering them", metadata: [LogKey.jobTypes: "\(unknown.joined(separator: ","))"])
            }
            let waiter: CheckedContinuation<Void, Never>? = state.withLock { state in
                state.sweepTypes = unknown
                guard !unknown.isEmpty else { return nil }
                let waiter = state.waiter
                state.waiter = nil
                if waiter == nil { state.wakePending = true }
                return waiter
            }
            waiter?.resume()
        } catch {
            logger.debug("unknown-type sweep failed", metadata: [LogKey.error: "\(error)"])
        }
    }
}
