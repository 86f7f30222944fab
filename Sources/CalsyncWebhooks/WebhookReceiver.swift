import CalsyncJobs
import CalsyncSync
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Checks notifications and turns trusted ones into coalesced imports, behind the HTTP answer: the routes
/// `submit` and answer at once; `run()` drains the bounded inbox with a few concurrent checks, each under a
/// time limit. Identical notifications already waiting or in flight are merged; a full inbox drops (the
/// scheduler's safety-net import catches up).
package final class WebhookReceiver: Service, Sendable {
    let store: any PushChannelStore
    let gate: any PushImportGate
    let logger: Logger
    let concurrency: Int
    let timeLimit: Duration
    let stream: AsyncStream<PushNotification>
    let continuation: AsyncStream<PushNotification>.Continuation
    let waiting = Mutex<Set<PushNotification>>([])
    let counts = Mutex<[String: Int]>([:])
    let onOutcome: (@Sendable (PushNotification, PushNotificationOutcome) -> Void)?
    /// `calsync.webhooks.notifications` by outcome, made once (a lookup per notification costs at 10,000/s).
    let counters: [String: Counter]

    /// Creates a receiver holding at most `capacity` notifications; each check and its Redis write take at
    /// most `timeLimit` (then it is dropped).
    package init(
        store: any PushChannelStore, gate: any PushImportGate, capacity: Int, concurrency: Int = 16,
        timeLimit: Duration = .seconds(5), logger: Logger,
        onOutcome: (@Sendable (PushNotification, PushNotificationOutcome) -> Void)? = nil
    ) {
        self.store = store
        self.gate = gate
        self.logger = logger
        self.concurrency = max(1, concurrency)
        self.timeLimit = timeLimit
        self.onOutcome = onOutcome
        let outcomes = ["merged", "dropped", "timed_out", "failed"] + ["import_enqueued", "coalesced", "acknowledged", "refused"]
        self.counters = Dictionary(
            uniqueKeysWithValues: outcomes.map { ($0, Counter(label: "calsync.webhooks.notifications", dimensions: [("outcome", $0)])) })
        (stream, continuation) = AsyncStream.makeStream(of: PushNotification.self, bufferingPolicy: .bufferingOldest(max(1, capacity)))
    }

    /// Queues a notification for its check; returns false when it was dropped (inbox full).
    @discardableResult
    package func submit(_ notification: PushNotification) -> Bool {
        let fresh = waiting.withLock { $0.insert(notification).inserted }
        guard fresh else {
            count("merged")
            return true
        }
        if case .enqueued = continuation.yield(notification) { return true }
        waiting.withLock { _ = $0.remove(notification) }
        count("dropped")
        return false
    }

    /// How many notifications ended each way so far (`merged`, `dropped`, `timed_out`, and the outcomes).
    package var outcomeCounts: [String: Int] { counts.withLock { $0 } }

    /// Drains the inbox until shutdown.
    package func run() async throws {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                var running = 0
                for await notification in stream {
                    if running >= concurrency {
                        await group.next()
                        running -= 1
                    }
                    group.addTask { await self.process(notification) }
                    running += 1
                }
            }
        } onGracefulShutdown: {
            self.continuation.finish()
        }
    }

    /// Checks one notification within the time limit.
    func process(_ notification: PushNotification) async {
        waiting.withLock { _ = $0.remove(notification) }
        let outcome = await withTimeLimit(timeLimit) { try await self.check(notification) }
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

    /// Trusts a notification only when its channel is known and unexpired, of the right provider, and its
    /// secret (and Google's resource id) match; then notes the channel delivers and enqueues what it asks for.
    /// Google's `sync` may arrive before `events.watch` answered: a channel being opened (recorded without a
    /// resource id yet) accepts a `sync` with the right token, and nothing else.
    func check(_ notification: PushNotification) async throws -> PushNotificationOutcome {
        switch notification {
        case .google(let channelID, let token, let resourceID, let state):
            guard let channel = try await store.pushChannel(id: channelID), channel.provider == .google,
                PushSecret.matches(token, storedHash: channel.secretHash),
                resourceID != nil, channel.resourceID == resourceID || (state == "sync" && channel.resourceID == nil)
            else { return refused(.google) }
            await delivered(channel)
            if state == "sync" { return .acknowledged }
            return try await importFor(channel)
        case .graph(let subscriptionID, let clientState, let lifecycleEvent):
            guard let channel = try await store.pushChannel(id: subscriptionID), channel.provider == .microsoft,
                PushSecret.matches(clientState, storedHash: channel.secretHash)
            else { return refused(.microsoft) }
            await delivered(channel)
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

    private func refused(_ provider: ProviderKind) -> PushNotificationOutcome {
        logger.debug("untrusted notification ignored", metadata: [LogKey.provider: "\(provider.rawValue)"])
        return .refused
    }

    private func count(_ outcome: String) {
        counts.withLock { $0[outcome, default: 0] += 1 }
        (counters[outcome] ?? Counter(label: "calsync.webhooks.notifications", dimensions: [("outcome", outcome)])).increment()
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
