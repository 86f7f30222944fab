import CalsyncJobs
import CalsyncSync
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Checks notifications and turns trusted ones into coalesced imports, behind the HTTP answer: the routes
/// `submit` and answer at once; `run()` drains the bounded inbox in batches, a few batches at a time: one
/// PostgreSQL read finds the channels of a whole batch, then each trusted notification does its work (Redis,
/// the first delivery's record) under a time limit. Identical notifications already waiting are merged; a full
/// inbox drops (the scheduler's safety-net import catches up).
package final class WebhookReceiver: Service, Sendable {
    let store: any PushChannelStore
    let gate: any PushImportGate
    let logger: Logger
    let concurrency: Int
    let batchSize: Int
    let capacity: Int
    let timeLimit: Duration
    let inbox = Mutex<Inbox>(Inbox())
    /// Rung when the inbox goes from empty to not empty (and finished at shutdown).
    let doorbell: AsyncStream<Void>
    let ring: AsyncStream<Void>.Continuation
    let counts = Mutex<[String: Int]>([:])
    let onOutcome: (@Sendable (PushNotification, PushNotificationOutcome) -> Void)?
    /// `calsync.webhooks.notifications` by outcome, made once (a lookup per notification costs at 10,000/s).
    let counters: [String: Counter]

    /// The notifications waiting for their check, in arrival order, and the same as a set (to merge duplicates).
    struct Inbox {
        var items: [PushNotification] = []
        var head = 0
        var waiting: Set<PushNotification> = []
        var closed = false

        /// How many are waiting.
        var count: Int { items.count - head }

        /// Removes and returns the oldest `limit` (or fewer) notifications.
        mutating func take(_ limit: Int) -> [PushNotification] {
            let end = min(items.count, head + limit)
            let batch = Array(items[head..<end])
            head = end
            for notification in batch { waiting.remove(notification) }
            if head == items.count {
                items.removeAll(keepingCapacity: items.count <= 4096)
                head = 0
            } else if head >= 4096, head * 2 >= items.count {
                items.removeFirst(head)
                head = 0
            }
            return batch
        }
    }

    /// Creates a receiver holding at most `capacity` notifications, checking up to `concurrency` batches of at
    /// most `batchSize` at once; a batch's channel read, and then each trusted notification's work, take at
    /// most `timeLimit` (then they are dropped).
    package init(
        store: any PushChannelStore, gate: any PushImportGate, capacity: Int, concurrency: Int = 8, batchSize: Int = 1024,
        timeLimit: Duration = .seconds(5), logger: Logger,
        onOutcome: (@Sendable (PushNotification, PushNotificationOutcome) -> Void)? = nil
    ) {
        self.store = store
        self.gate = gate
        self.logger = logger
        self.concurrency = max(1, concurrency)
        self.batchSize = max(1, batchSize)
        self.capacity = max(1, capacity)
        self.timeLimit = timeLimit
        self.onOutcome = onOutcome
        let outcomes = ["merged", "dropped", "timed_out", "failed"] + ["import_enqueued", "coalesced", "acknowledged", "refused"]
        self.counters = Dictionary(
            uniqueKeysWithValues: outcomes.map { ($0, Counter(label: "calsync.webhooks.notifications", dimensions: [("outcome", $0)])) })
        (doorbell, ring) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a notification for its check; returns false when it was dropped (inbox full or shut down).
    @discardableResult
    package func submit(_ notification: PushNotification) -> Bool {
        enum Admission { case merged, dropped, queued(first: Bool) }
        let admission = inbox.withLock { inbox -> Admission in
            guard !inbox.waiting.contains(notification) else { return .merged }
            guard !inbox.closed, inbox.count < capacity else { return .dropped }
            inbox.waiting.insert(notification)
            inbox.items.append(notification)
            return .queued(first: inbox.count == 1)
        }
        switch admission {
        case .merged:
            count("merged")
            return true
        case .dropped:
            count("dropped")
            return false
        case .queued(let first):
            if first { ring.yield() }
            return true
        }
    }

    /// How many notifications ended each way so far (`merged`, `dropped`, `timed_out`, and the outcomes).
    package var outcomeCounts: [String: Int] { counts.withLock { $0 } }

    /// Drains the inbox until shutdown (what is waiting then is still checked).
    package func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                var running = 0
                for await _ in doorbell {
                    while true {
                        // Waiting for a free slot lets the next batch grow: one read for many notifications.
                        if running >= concurrency {
                            await group.next()
                            running -= 1
                        }
                        let batch = inbox.withLock { $0.take(batchSize) }
                        if batch.isEmpty { break }
                        group.addTask { await self.process(batch) }
                        running += 1
                    }
                }
            }
        } onGracefulShutdown: {
            self.inbox.withLock { $0.closed = true }
            self.ring.finish()
        }
    }

    /// Reads the channels of a batch at once, refuses the untrusted notifications and does each trusted one's work.
    func process(_ batch: [PushNotification]) async {
        let ids = batch.map(\.channelID)
        let channels: [String: PushChannelRecord]
        switch await withTimeLimit(timeLimit, { try await self.store.pushChannels(ids: ids) }) {
        case .some(.some(let found)):
            channels = found
        case .some(.none):
            count("failed", batch.count)
            return
        case .none:
            count("timed_out", batch.count)
            logger.warning(
                "reading the channels of a batch of notifications took longer than its limit; dropped (polling catches up)",
                metadata: ["count": "\(batch.count)"])
            return
        }
        var trusted: [(PushNotification, PushChannelRecord)] = []
        var refusedCount = 0
        for notification in batch {
            if let channel = channels[notification.channelID], Self.trusts(notification, channel) {
                trusted.append((notification, channel))
            } else {
                refusedCount += 1
                refused(notification)
            }
        }
        if refusedCount > 0 { count("refused", refusedCount) }
        guard !trusted.isEmpty else { return }
        await withTaskGroup(of: Void.self) { group in
            for (notification, channel) in trusted {
                group.addTask { await self.settle(notification, channel: channel) }
            }
        }
    }

    /// Does a trusted notification's work within the time limit.
    func settle(_ notification: PushNotification, channel: PushChannelRecord) async {
        let outcome = await withTimeLimit(timeLimit) { try await self.act(on: notification, channel: channel) }
        switch outcome {
        case .some(.some(let result)):
            count(result.rawValue)
            onOutcome?(notification, result)
        case .some(.none):
            count("failed")
        case .none:
            count("timed_out")
            logger.warning("a notification's check took longer than its limit; dropped (polling catches up)")
        }
    }

    /// Trusts a notification only when its channel is known and unexpired (the store leaves expired ones out), of
    /// the right provider, and its secret (and Google's resource id) match. Google's `sync` may arrive before
    /// `events.watch` answered: a channel being opened (recorded without a resource id yet) accepts a `sync` with
    /// the right token, and nothing else.
    static func trusts(_ notification: PushNotification, _ channel: PushChannelRecord) -> Bool {
        switch notification {
        case .google(_, let token, let resourceID, let state):
            channel.provider == .google && PushSecret.matches(token, storedHash: channel.secretHash)
                && resourceID != nil && (channel.resourceID == resourceID || (state == "sync" && channel.resourceID == nil))
        case .graph(_, let clientState, _):
            channel.provider == .microsoft && PushSecret.matches(clientState, storedHash: channel.secretHash)
        }
    }

    /// A trusted notification: notes the channel delivers and enqueues what it asks for.
    func act(on notification: PushNotification, channel: PushChannelRecord) async throws -> PushNotificationOutcome {
        await delivered(channel)
        switch notification {
        case .google(_, _, _, let state):
            if state == "sync" { return .acknowledged }
            return try await importFor(channel)
        case .graph(_, _, let lifecycleEvent):
            switch lifecycleEvent {
            case nil, "missed":
                return try await importFor(channel)
            case "reauthorizationRequired":
                _ = try await gate.requestChannelWork(memberID: channel.memberID, provider: .microsoft, recreate: false, force: true)
                return .acknowledged
            case "subscriptionRemoved":
                _ = try await gate.requestChannelWork(memberID: channel.memberID, provider: .microsoft, recreate: true, force: false)
                return try await importFor(channel)
            default:
                return .acknowledged
            }
        }
    }

    /// Records the channel's first trusted delivery (one write per channel, not per notification); a failure
    /// to record it never stops the notification (the sweep retries the channel at worst).
    private func delivered(_ channel: PushChannelRecord) async {
        guard channel.deliveredAt == nil else { return }
        do {
            try await store.markPushDelivered(channelID: channel.channelID)
        } catch {
            logger.debug("could not record a channel's delivery", metadata: [LogKey.error: "\(error)"])
        }
    }

    private func importFor(_ channel: PushChannelRecord) async throws -> PushNotificationOutcome {
        switch try await gate.notifyChange(memberID: channel.memberID, provider: channel.provider) {
        case .enqueued, .delayed: return .importEnqueued
        case .coalesced: return .coalesced
        }
    }

    private func refused(_ notification: PushNotification) {
        onOutcome?(notification, .refused)
        logger.debug(
            "untrusted notification ignored",
            metadata: [LogKey.provider: "\(notification.provider.rawValue)"])
    }

    private func count(_ outcome: String, _ times: Int = 1) {
        counts.withLock { $0[outcome, default: 0] += times }
        (counters[outcome] ?? Counter(label: "calsync.webhooks.notifications", dimensions: [("outcome", outcome)])).increment(by: times)
    }
}

/// Runs `work` for at most `limit`: its result, nil when the limit came first (the work is cancelled and
/// left to end on its own), `.some(nil)` when it threw.
func withTimeLimit<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async throws -> T) async -> T?? {
    let (results, continuation) = AsyncStream.makeStream(of: T??.self, bufferingPolicy: .bufferingNewest(2))
    let worker = Task {
        let value: T? = try? await work()
        continuation.yield(.some(value))
    }
    let timer = Task {
        try? await Task.sleep(for: limit)
        continuation.yield(.none)
    }
    var iterator = results.makeAsyncIterator()
    let first = await iterator.next() ?? .none
    continuation.finish()
    timer.cancel()
    if case .none = first { worker.cancel() }
    return first
}
