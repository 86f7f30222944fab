import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import CalsyncStore
import CalsyncSync
import CalsyncSyncRedis
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// `calsync scheduler`: while it holds the leader lease, every tick enqueues due imports (and the daily
/// full resync in their place), token refreshes ahead of expiry, and replays of parked changes whose
/// connection and organization became usable again, in batches: one statement and one Redis script per
/// batch, never one round trip per job. Several replicas are safe: only the leader ticks.
package final class Scheduler: Service, Sendable {
    /// When and how much the scheduler enqueues.
    package struct Configuration: Sendable {
        /// The Redis key prefix (queues, markers, the leader lock).
        package var prefix: String
        /// Time between two ticks of the leader; default 15 s.
        package var tick: Duration
        /// Default import interval of a connection in seconds; default 300.
        package var importIntervalSeconds: Int
        /// Extra delay after an import, as a fraction of the interval, drawn uniformly per connection; default 0.1.
        package var jitter: Double
        /// Tokens expiring within this many seconds are refreshed; default the sync rules' margin (600).
        package var refreshMarginSeconds: Int
        /// Seconds between two full resyncs of a connection; default 86 400.
        package var fullResyncAfterSeconds: Int
        /// The leader lock's lifetime; default 10 s. It is renewed every third of it.
        package var leaderTTL: Duration
        /// About this many connections per claim (a range of pages holding that many rows) and per Redis script; default 5000.
        package var batchSize: Int
        /// Push channels to keep open and the safety-net interval of push-healthy connections (`Scheduler+Push.swift`).
        package var push: PushConfiguration

        /// Creates the defaults for a prefix.
        package init(prefix: String) {
            self.prefix = prefix
            self.tick = .seconds(15)
            self.importIntervalSeconds = 300
            self.jitter = 0.1
            self.refreshMarginSeconds = Int(SyncConfiguration().refreshMargin.components.seconds)
            self.fullResyncAfterSeconds = 86_400
            self.leaderTTL = .seconds(10)
            self.batchSize = 5000
            self.push = PushConfiguration()
        }
    }

    /// What one tick enqueued.
    package struct TickReport: Sendable, Equatable {
        /// Regular `import_window` jobs enqueued.
        package var imports = 0
        /// `import_window` jobs with `full_resync: true` enqueued.
        package var fullResyncs = 0
        /// Due imports skipped because one for that connection is still queued or running.
        package var deduplicated = 0
        /// New connections given their first import time.
        package var newlyScheduled = 0
        /// `refresh_token` jobs enqueued.
        package var refreshes = 0
        /// Parked changes replayed.
        package var replays = 0
        /// Due connections whose `next_import_at` was cleared (not importing) or moved past a rate limit.
        package var reconciled = 0
        /// Whether the tick stopped early because this replica lost the lead.
        package var interrupted = false
        /// `renew_push` jobs enqueued (channels to open or renew) and connections fallen back to polling.
        package var pushWork = 0

        /// An empty report.
        package init() {}

    }

    private struct LeaderState {
        var deadline: ContinuousClock.Instant?
    }

    let redis: RedisClient
    let store: PostgresSchedulerStore
    let lease: LeaderLease
    let configuration: Configuration
    let logger: Logger
    private let state = Mutex(LeaderState())
    private let leaderGauge = Gauge(label: "calsync.scheduler.leader")
    private let tickTimer = Timer(label: "calsync.scheduler.tick.duration")

    /// Dedup marker and job in one step: each marker set with NX (and a TTL) pushes its job; a marker
    /// that exists means that job is still queued or running, so nothing is pushed. KEYS[1] is the
    /// ready list, KEYS[2…] the markers; ARGV holds, per marker, its TTL in seconds and the job.
    /// The jobs go out in one LPUSH, in the order of their markers (as one LPUSH each would leave them).
    static let pushUnlessPending = RedisScript(
        """
        local jobs = {}
        for i = 2, #KEYS do
            if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[2 * i - 3]) then
                jobs[#jobs + 1] = ARGV[2 * i - 2]
            end
        end
        if #jobs > 0 then redis.call('LPUSH', KEYS[1], unpack(jobs)) end
        return #jobs
        """)

    /// Creates a scheduler; `replicaID` names this process in the leader lock.
    package init(
        redis: RedisClient, store: PostgresSchedulerStore, configuration: Configuration, replicaID: String, logger: Logger
    ) {
        self.redis = redis
        self.store = store
        self.configuration = configuration
        self.lease = LeaderLease(
            redis: redis, prefix: configuration.prefix, replicaID: replicaID, ttl: configuration.leaderTTL)
        var logger = logger
        logger[metadataKey: LogKey.schedulerReplica] = "\(replicaID)"
        self.logger = logger
    }

    /// Whether this replica holds the lead now (its last acquire or renewal is younger than the TTL).
    package var isLeader: Bool {
        state.withLock { state in
            guard let deadline = state.deadline else { return false }
            return ContinuousClock.now < deadline
        }
    }

    // MARK: - Running

    /// Campaigns for the lead and ticks while leading, until graceful shutdown; the leader then gives up its lock.
    package func run() async throws {
        logger.info(
            "scheduler started",
            metadata: ["tick_seconds": "\(configuration.tick.components.seconds)",
                       "leader_ttl_seconds": "\(configuration.leaderTTL.components.seconds)"])
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.campaign() }
                group.addTask { await self.tickLoop() }
                await group.waitForAll()
            }
        }
        await resign()
        logger.info("scheduler stopped")
    }

    /// Runs one tick if this replica can take the lead (renewing it while the tick runs), then gives the
    /// lead back: `--once`. Returns nil when another replica leads.
    package func runOnce() async throws -> TickReport? {
        let started = ContinuousClock.now
        guard try await lease.acquire() else {
            logger.info("another scheduler replica leads; nothing done")
            return nil
        }
        setLeader(until: started + configuration.leaderTTL)
        defer { setLeader(until: nil) }
        do {
            let report = try await withThrowingTaskGroup(of: TickReport?.self) { group in
                group.addTask {
                    await self.campaign()
                    return nil
                }
                group.addTask { try await self.tick() }
                defer { group.cancelAll() }
                while let result = try await group.next() {
                    if let report = result { return report }
                }
                throw CancellationError()
            }
            try? await lease.release()
            return report
        } catch {
            try? await lease.release()
            throw error
        }
    }

    /// Keeps the lead by renewing every third of the TTL; a follower tries to take it every tenth of the
    /// TTL, so it leads at most a tenth of the TTL after the dead leader's lock expired.
    func campaign() async {
        let period = configuration.leaderTTL / 3
        let followerPeriod = max(.milliseconds(100), configuration.leaderTTL / 10)
        if isLeader {
            do { try await Task.sleep(for: period) } catch { return }
        }
        while !Task.isCancelled {
            let wasLeader = isLeader
            let started = ContinuousClock.now
            do {
                let holds = wasLeader ? try await lease.renew() : try await lease.acquire()
                setLeader(until: holds ? started + configuration.leaderTTL : nil)
                if holds, !wasLeader { logger.info("became the scheduler leader") }
                if !holds, wasLeader { logger.info("stopped being the scheduler leader: another replica holds the lock") }
            } catch {
                logger.warning("could not reach Redis for the leader lock", metadata: [LogKey.error: "\(error)"])
                if wasLeader, !isLeader { logger.info("stopped being the scheduler leader: the lock expired") }
            }
            let leading = isLeader
            leaderGauge.record(leading ? 1 : 0)
            do { try await Task.sleep(for: leading ? period : followerPeriod) } catch { return }
        }
    }

    /// Ticks every `tick` while leading; a new leader ticks at once.
    func tickLoop() async {
        var nextTick = ContinuousClock.now
        let poll = min(Duration.milliseconds(250), configuration.tick)
        while !Task.isCancelled {
            if isLeader, ContinuousClock.now >= nextTick {
                nextTick = ContinuousClock.now + configuration.tick
                do {
                    _ = try await tick()
                } catch is CancellationError {
                    return
                } catch {
                    logger.warning("scheduler tick failed; retrying next tick: \(StoreError.translating(error))")
                }
            }
            do { try await Task.sleep(for: poll) } catch { return }
        }
    }

    /// Gives up the lead (graceful shutdown), so another replica takes over at once.
    func resign() async {
        let wasLeader = isLeader
        setLeader(until: nil)
        leaderGauge.record(0)
        do {
            // Compare-and-delete: harmless when another replica holds the lock.
            try await lease.release()
            if wasLeader { logger.info("stopped being the scheduler leader: shutting down, lock released") }
        } catch {
            logger.warning("could not release the leader lock (it expires by itself)", metadata: [LogKey.error: "\(error)"])
        }
    }

    private func setLeader(until deadline: ContinuousClock.Instant?) {
        state.withLock { $0.deadline = deadline }
    }

    // MARK: - One tick

    /// One pass over every due import, refresh and parked replay; stops early when the lead is lost.
    package func tick() async throws -> TickReport {
        let started = ContinuousClock.now
        var report = TickReport()
        let enqueuedAt = JobQueue.EnqueueTime(Date())
        let epoch = Int(Date().timeIntervalSince1970)

        let tickStarted = try await store.databaseNow()
        // Imports due before the tick started (a row rewritten by this tick is not claimed again), walked in
        // ranges of pages of about `batchSize` rows; two lanes take the next range each (PostgreSQL uses a core
        // for each).
        let extent = try await store.scheduleExtent()
        let walk = PageWalk(
            pages: extent.pages, pagesPerBatch: max(1, Int(Double(configuration.batchSize) / extent.rowsPerPage)))
        try await withThrowingTaskGroup(of: TickReport.self) { lanes in
            for _ in 0..<Self.importLanes {
                lanes.addTask {
                    try await self.importLane(walk: walk, enqueuedAt: enqueuedAt, epoch: epoch, tickStarted: tickStarted)
                }
            }
            for try await lane in lanes {
                report.imports += lane.imports
                report.fullResyncs += lane.fullResyncs
                report.deduplicated += lane.deduplicated
                report.newlyScheduled += lane.newlyScheduled
                report.reconciled += lane.reconciled
            }
        }

        // Token refreshes ahead of expiry.
        var after: PostgresSchedulerStore.DueRefresh?
        while isLeader {
            try Task.checkCancellation()
            let due = try await store.dueRefreshes(
                marginSeconds: configuration.refreshMarginSeconds, after: after, limit: configuration.batchSize)
            let markerTTL = max(Self.minimumRefreshMarkerSeconds, configuration.refreshMarginSeconds / 2)
            // The store returns only google and microsoft (the only providers with tokens).
            let items = try due.compactMap { refresh -> PendingJob? in
                guard let provider = ProviderKind(rawValue: refresh.provider) else { return nil }
                return PendingJob(
                    marker: "\(configuration.prefix):pending:refresh:\(refresh.memberID):\(refresh.provider)",
                    ttlSeconds: markerTTL,
                    envelope: try JobQueue.envelope(
                        id: followUpJobID("sched-refresh-\(refresh.memberID)-\(refresh.provider)-\(epoch)"),
                        type: RefreshTokenPayload.jobType, enqueuedAt: enqueuedAt,
                        payload: RefreshTokenPayload(memberID: refresh.memberID, provider: provider)))
            }
            report.refreshes += try await pushUnlessPending(items, type: "refresh_token")
            if due.count < configuration.batchSize { break }
            after = due.last
        }

        // Parked changes whose connection is active and organization eligible again.
        while isLeader {
            try Task.checkCancellation()
            let changes = try await store.takeReplayableParkedChanges(memberLimit: configuration.batchSize)
            if changes.isEmpty { break }
            var byType: [String: [String]] = [:]
            for change in changes {
                let job = change.replayJob
                byType[job.type, default: []].append(
                    JobQueue.envelope(
                        id: job.id, type: job.type, enqueuedAt: enqueuedAt,
                        payload: String(decoding: job.payload, as: UTF8.self)))
            }
            let commands = byType.map { type, envelopes in ["LPUSH", "\(configuration.prefix):queue:\(type)"] + envelopes }
            for reply in try await redis.pipeline(commands) {
                if case .error(let message) = reply {
                    throw SchedulerError(code: .redisError, message: "could not enqueue parked replays: \(message)")
                }
            }
            for (type, envelopes) in byType {
                Counter(label: "calsync.scheduler.enqueued", dimensions: [("type", type)]).increment(by: envelopes.count)
            }
            report.replays += changes.count
        }

        if isLeader { report.pushWork = try await maintainPushChannels(enqueuedAt: enqueuedAt, epoch: epoch) }

        report.interrupted = !isLeader
        let elapsed = ContinuousClock.now - started
        tickTimer.recordNanoseconds(elapsed.nanoseconds)
        Counter(label: "calsync.scheduler.enqueued", dimensions: [("type", "import_window")])
            .increment(by: report.imports + report.fullResyncs)
        Counter(label: "calsync.scheduler.enqueued", dimensions: [("type", "refresh_token")]).increment(by: report.refreshes)
        let enqueued = report.imports + report.fullResyncs + report.refreshes + report.replays
        let metadata: Logger.Metadata = [
            "imports": "\(report.imports)", "full_resyncs": "\(report.fullResyncs)",
            "deduplicated": "\(report.deduplicated)", "newly_scheduled": "\(report.newlyScheduled)",
            "refreshes": "\(report.refreshes)", "replays": "\(report.replays)", "reconciled": "\(report.reconciled)",
            "duration_ms": "\(elapsed.nanoseconds / 1_000_000)",
        ]
        if enqueued > 0 || report.interrupted {
            logger.info("scheduler tick", metadata: metadata)
        } else {
            logger.debug("scheduler tick", metadata: metadata)
        }
        return report
    }

    /// A job to push unless its marker says one is pending.
    struct PendingJob: Sendable {
        var marker: String
        var ttlSeconds: Int
        var envelope: String
    }

    /// Lanes claiming due imports at once in a tick.
    static let importLanes = 2

    /// Jobs pushed by one run of the marker script, or by one LPUSH (keeps one command's arguments bounded).
    static let jobsPerScript = 1000

    /// The shortest life of a pending-refresh marker, in seconds (it otherwise lives half the refresh margin).
    static let minimumRefreshMarkerSeconds = 30

    /// The ranges of pages of one tick's walk over `connection_schedules`, handed out one at a time to the lanes.
    final class PageWalk: Sendable {
        private let next = Mutex(0)
        let pages: Int
        let pagesPerBatch: Int

        init(pages: Int, pagesPerBatch: Int) {
            self.pages = pages
            self.pagesPerBatch = pagesPerBatch
        }

        /// The next range; the last one is open-ended (rows added past the end while the tick runs), then nil.
        func take() -> Range<Int>? {
            next.withLock { start in
                guard start <= pages else { return nil }
                defer { start += pagesPerBatch }
                return start + pagesPerBatch > pages ? start..<Int(UInt32.max) : start..<(start + pagesPerBatch)
            }
        }
    }

    /// Claims the due imports of range after range of the walk until it ends (or the lead is lost); a batch's
    /// jobs are pushed to Redis while PostgreSQL claims the next one. Returns the lane's import counts. The
    /// claim itself skips a connection whose last import is still queued (`connection_schedules.import_queued_until`),
    /// so a batch's jobs go out with plain LPUSHes.
    private func importLane(walk: PageWalk, enqueuedAt: JobQueue.EnqueueTime, epoch: Int, tickStarted: Date) async throws -> TickReport {
        var report = TickReport()
        let queueKey = "\(configuration.prefix):queue:\(ImportWindowPayload.jobType)"
        try await withThrowingTaskGroup(of: Void.self) { pushes in
            var pushing = false
            while isLeader, let pages = walk.take() {
                try Task.checkCancellation()
                let batch = try await store.claimDueImports(
                    pages: pages, defaultIntervalSeconds: configuration.importIntervalSeconds,
                    jitter: configuration.jitter, fullResyncAfterSeconds: configuration.fullResyncAfterSeconds,
                    pushPollIntervalSeconds: configuration.push.pollIntervalSeconds, dueBefore: tickStarted)
                report.newlyScheduled += batch.scheduled
                report.reconciled += batch.reconciled
                report.deduplicated += batch.deduplicated
                guard !batch.due.isEmpty else { continue }
                var envelopes: [String] = []
                envelopes.reserveCapacity(batch.due.count)
                for due in batch.due {
                    // The connections table admits only known providers (a CHECK constraint).
                    let payload = ImportWindowPayload(
                        memberID: due.memberID, provider: ProviderKind(rawValue: due.provider), fullResync: due.fullResync)
                    envelopes.append(
                        JobQueue.envelope(
                            id: followUpJobID("sched-\(due.fullResync ? "resync" : "import")-\(due.memberID)-\(due.provider)-\(epoch)"),
                            type: ImportWindowPayload.jobType, enqueuedAt: enqueuedAt, payload: try payload.jsonText))
                    if due.fullResync { report.fullResyncs += 1 } else { report.imports += 1 }
                }
                if pushing { try await pushes.next() }
                pushes.addTask { [envelopes] in try await self.push(envelopes, to: queueKey) }
                pushing = true
            }
            try await pushes.waitForAll()
        }
        return report
    }

    /// LPUSHes jobs in chunks of `jobsPerScript` (one pipelined write for them all).
    func push(_ envelopes: [String], to queueKey: String) async throws {
        guard !envelopes.isEmpty else { return }
        var commands: [[String]] = []
        var start = 0
        while start < envelopes.count {
            let end = min(envelopes.count, start + Self.jobsPerScript)
            commands.append(["LPUSH", queueKey] + envelopes[start..<end])
            start = end
        }
        for reply in try await redis.pipeline(commands) {
            if case .error(let message) = reply {
                throw SchedulerError(code: .redisError, message: "could not enqueue due imports: \(message)")
            }
        }
    }

    /// Pushes jobs of one type in chunks through the marker script; returns how many were pushed.
    func pushUnlessPending(_ items: [PendingJob], type: String) async throws -> Int {
        var pushed = 0
        let queueKey = "\(configuration.prefix):queue:\(type)"
        var start = 0
        while start < items.count {
            let chunk = items[start..<min(items.count, start + Self.jobsPerScript)]
            start += chunk.count
            var keys = [queueKey]
            var args: [String] = []
            keys.reserveCapacity(chunk.count + 1)
            args.reserveCapacity(chunk.count * 2)
            for item in chunk {
                keys.append(item.marker)
                args.append(String(item.ttlSeconds))
                args.append(item.envelope)
            }
            pushed += try await redis.evaluate(Self.pushUnlessPending, keys: keys, args: args).int ?? 0
        }
        return pushed
    }
}

/// The scheduler could not do part of a tick; the next tick tries again.
package struct SchedulerError: Error, Sendable, CustomStringConvertible {
    /// Stable code, safe as a metric label.
    package var code: Code
    /// What happened and what to do.
    package var message: String

    /// Creates an error.
    package init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}
