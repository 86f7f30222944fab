import CalsyncSync
import CalsyncWebhooks
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// Runs `receiver` in a `ServiceGroup` during `body`, then shuts it down gracefully and waits for it.
func withRunningReceiver(_ receiver: WebhookReceiver, _ body: () async throws -> Void) async throws {
    let group = ServiceGroup(services: [receiver], logger: testLogger)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        try await body()
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

@Suite("calsync webhooks: batched checks")
struct WebhookBatchTests {
    /// A trusted Google message, one with a wrong token, one of an unknown channel and a trusted Graph item.
    static let mixed: [PushNotification] = [
        .google(channelID: "g-chan", token: "google-token", resourceID: "res-1", state: "exists"),
        .google(channelID: "g-chan", token: "wrong", resourceID: "res-1", state: "exists"),
        .google(channelID: "unknown", token: "google-token", resourceID: "res-1", state: "exists"),
        .graph(subscriptionID: "sub-1", clientState: "graph-state", lifecycleEvent: nil),
        .graph(subscriptionID: "sub-1", clientState: "forged", lifecycleEvent: nil),
        .google(channelID: "g-chan", token: "google-token", resourceID: "res-1", state: "sync"),
    ]

    @Test("notifications waiting together are read with one PostgreSQL round trip each batch, and each keeps its own outcome")
    func oneReadPerBatch() async throws {
        let store = MemoryPushStore()
        try await seedChannels(store)
        let gate = RecordingGate()
        let outcomes = Mutex<[PushNotification: PushNotificationOutcome]>([:])
        let receiver = WebhookReceiver(
            store: store, gate: gate, capacity: 100, concurrency: 1, batchSize: 4, logger: testLogger,
            onOutcome: { notification, outcome in outcomes.withLock { $0[notification] = outcome } })
        // Submitted before the receiver runs: all six wait together, then go in batches of at most four.
        for notification in Self.mixed { #expect(receiver.submit(notification)) }
        try await withRunningReceiver(receiver) {
            try await eventually { outcomes.withLock { $0.count } == Self.mixed.count }
        }
        #expect(store.batchReads.withLock { $0 } == [4, 2])
        let seen = outcomes.withLock { $0 }
        #expect(seen[Self.mixed[0]] == .importEnqueued)
        #expect(seen[Self.mixed[1]] == .refused)
        #expect(seen[Self.mixed[2]] == .refused)
        #expect(seen[Self.mixed[3]] == .importEnqueued)
        #expect(seen[Self.mixed[4]] == .refused)
        #expect(seen[Self.mixed[5]] == .acknowledged)
        #expect(receiver.outcomeCounts["refused"] == 3)
        #expect(gate.notified.withLock { $0 }.sorted() == ["m1:google", "m2:microsoft"])
    }

    @Test("identical waiting notifications merge, a full inbox drops, and a shutdown still checks what waits but admits nothing new")
    func inboxBounds() async throws {
        let store = MemoryPushStore()
        try await seedChannels(store)
        let gate = RecordingGate()
        let receiver = WebhookReceiver(store: store, gate: gate, capacity: 2, logger: testLogger)
        let trusted = Self.mixed[0]
        #expect(receiver.submit(trusted))
        #expect(receiver.submit(trusted))
        #expect(receiver.submit(Self.mixed[3]))
        #expect(!receiver.submit(Self.mixed[2]))
        #expect(receiver.outcomeCounts["merged"] == 1)
        #expect(receiver.outcomeCounts["dropped"] == 1)
        // Shut down at once: the two waiting are still checked.
        try await withRunningReceiver(receiver) {}
        #expect(receiver.outcomeCounts["import_enqueued"] == 2)
        #expect(gate.notified.withLock { $0 }.sorted() == ["m1:google", "m2:microsoft"])
        #expect(!receiver.submit(Self.mixed[4]))
        #expect(receiver.outcomeCounts["dropped"] == 2)
        // Once taken for its check, the same notification is new again (a later change, a later import).
        let again = WebhookReceiver(store: store, gate: gate, capacity: 2, logger: testLogger)
        try await withRunningReceiver(again) {
            #expect(again.submit(trusted))
            try await eventually { again.outcomeCounts["import_enqueued"] == 1 }
            #expect(again.submit(trusted))
            try await eventually { again.outcomeCounts["import_enqueued"] == 2 }
        }
        #expect(again.outcomeCounts["import_enqueued"] == 2)
        #expect(again.outcomeCounts["merged"] == nil)
    }

    @Test("a batch whose read fails or outlasts the limit changes nothing, and every notification in it is counted")
    func failedAndSlowReads() async throws {
        let store = MemoryPushStore()
        try await seedChannels(store)
        store.failsReads.withLock { $0 = true }
        let gate = RecordingGate()
        let failing = WebhookReceiver(store: store, gate: gate, capacity: 10, logger: testLogger)
        for notification in Self.mixed.prefix(3) { failing.submit(notification) }
        try await withRunningReceiver(failing) {
            try await eventually { failing.outcomeCounts["failed"] == 3 }
        }
        #expect(failing.outcomeCounts["failed"] == 3)

        let slow = MemoryPushStore(delay: .seconds(20))
        try await seedChannels(slow)
        let limited = WebhookReceiver(store: slow, gate: gate, capacity: 10, timeLimit: .milliseconds(200), logger: testLogger)
        for notification in Self.mixed.prefix(3) { limited.submit(notification) }
        try await withRunningReceiver(limited) {
            try await eventually { limited.outcomeCounts["timed_out"] == 3 }
        }
        #expect(limited.outcomeCounts["timed_out"] == 3)
        #expect(gate.notified.withLock { $0 }.isEmpty)
    }
}
