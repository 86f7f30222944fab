import CalsyncJobs
import CalsyncSync
import CalsyncSyncTesting
import CalsyncWebhooks
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

/// Runs a handler and returns its deferral, or nil when it did not defer.
func deferral(_ handler: any JobHandler, type: String, _ payload: some Encodable, rig: SyncTestRig) async throws -> Duration? {
    do {
        _ = try await runHandler(handler, type: type, payload, rig: rig)
        return nil
    } catch let error as JobError {
        if case .deferred(let until) = error.disposition { return until }
        throw error
    }
}

/// A fresh rig whose provider has no push calls or hooks on record (records are keyed by object identity, which
/// a provider of a finished test may have had).
func freshRig() -> SyncTestRig {
    let rig = SyncTestRig()
    forgetPushCalls(rig)
    return rig
}

/// Forgets the push calls and hooks of the rig's provider (call before the rig goes away).
func forgetPushCalls(_ rig: SyncTestRig) {
    pushCalls.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(rig.provider)) }
    openHooks.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(rig.provider)) }
}

/// Review findings 4, 8, 9 and 10 (push), in process.
@Suite("push: review fixes in process")
struct PushReviewFixTests {
    func push() -> PushConfiguration {
        var push = PushConfiguration()
        push.publicURL = "https://calsync.example.com/"
        return push
    }

    @Test("an import deferred by the member's running import leaves the push mark alone; it is cleared once the lock is held")
    func markClearedUnderLock() async throws {
        let rig = freshRig()
        defer { forgetPushCalls(rig) }
        _ = try await rig.connect()
        let gate = RecordingGate()
        let handler = PushAwareImportHandler(wrapping: rig.handler(ImportWindowPayload.jobType), gate: gate)
        let payload = ImportWindowPayload(memberID: "m-1", provider: .google)
        let running = try #require(try await rig.locks.acquire("import:m-1", ttl: .seconds(60)))
        #expect(try await deferral(handler, type: ImportWindowPayload.jobType, payload, rig: rig) != nil)
        #expect(gate.started.withLock { $0 }.isEmpty, "a deferred import must not clear the mark")
        try await rig.locks.release(running)
        #expect(try await runHandler(handler, type: ImportWindowPayload.jobType, payload, rig: rig) == "completed")
        #expect(gate.started.withLock { $0 } == ["m-1:google"])
    }

    @Test("a permanent refusal records push unavailable and ends the job as skipped, not dead")
    func permanentRefusalSkips() async throws {
        let rig = freshRig()
        defer { forgetPushCalls(rig) }
        let connection = try await rig.connect()
        let store = MemoryPushStore()
        openHooks.withLock {
            $0[ObjectIdentifier(rig.provider)] = { _ in throw ProviderError.permanent(.forbidden, status: 403, "push is not allowed") }
        }
        let handler = RenewPushHandler(environment: rig.environment, pushStore: store, push: push())
        let outcome = try await runHandler(handler, type: "renew_push", RenewPushPayload(memberID: "m-1", provider: .google), rig: rig)
        #expect(outcome == "skipped:push_unavailable")
        let state = store.states.withLock { $0[connection.id] }
        #expect(state?.0 == .unavailable && state?.1?.contains("forbidden") == true)
        #expect(try await store.pushChannels(connectionID: connection.id).isEmpty, "the provisional record is forgotten")
    }

    @Test("a Google channel is recorded before events.watch, so its sync message is trusted and counts as delivery")
    func provisionalRecord() async throws {
        let rig = freshRig()
        defer { forgetPushCalls(rig) }
        let connection = try await rig.connect()
        let store = MemoryPushStore()
        let seen = Mutex<PushChannelRecord?>(nil)
        openHooks.withLock {
            $0[ObjectIdentifier(rig.provider)] = { id in
                let record = try await store.pushChannels(connectionID: connection.id).first { $0.channelID == id }
                seen.withLock { $0 = record }
            }
        }
        let handler = RenewPushHandler(environment: rig.environment, pushStore: store, push: push())
        #expect(try await runHandler(handler, type: "renew_push", RenewPushPayload(memberID: "m-1", provider: .google), rig: rig) == "completed")
        let provisional = try #require(seen.withLock { $0 }, "no record existed while events.watch ran")
        #expect(provisional.resourceID == nil && provisional.deliveredAt == nil)
        let saved = try #require(try await store.pushChannel(id: provisional.channelID))
        #expect(saved.resourceID == "res-\(rig.provider.primaryCalendarID)" && saved.secretHash == provisional.secretHash)
    }

    @Test("a channel being opened accepts only a sync with its token; the first trusted message records delivery")
    func syncBeforeWatchAnswered() async throws {
        let store = MemoryPushStore()
        try await store.savePushChannel(
            PushChannelRecord(
                channelID: "g-new", connectionID: "c-google", memberID: "m1", provider: .google, resourceID: nil,
                calendarID: "cal-1", secretHash: PushSecret.hash("google-token"), expiresAt: Date().addingTimeInterval(3600)))
        let gate = RecordingGate()
        try await withWebhooks(store: store, gate: gate) { client, receiver in
            for (token, state) in [("google-token", "exists"), ("wrong", "sync")] {
                try await client.execute(
                    uri: "/webhooks/google", method: .post,
                    headers: googleHeaders(channel: "g-new", token: token, resource: "res-9", state: state)
                ) { #expect($0.status == .ok) }
            }
            try await eventually { receiver.outcomeCounts["refused"] == 2 }
            #expect(receiver.outcomeCounts["refused"] == 2)
            #expect(try await store.pushChannel(id: "g-new")?.deliveredAt == nil)
            try await client.execute(
                uri: "/webhooks/google", method: .post,
                headers: googleHeaders(channel: "g-new", token: "google-token", resource: "res-9", state: "sync")
            ) { #expect($0.status == .ok) }
            try await eventually { receiver.outcomeCounts["acknowledged"] == 1 }
            #expect(receiver.outcomeCounts["acknowledged"] == 1)
            #expect(try await store.pushChannel(id: "g-new")?.deliveredAt != nil)
            #expect(gate.notified.withLock { $0 }.isEmpty)
        }
        // A channel already open records its first notification too.
        try await seedChannels(store)
        try await withWebhooks(store: store, gate: gate) { client, _ in
            try await client.execute(
                uri: "/webhooks/google", method: .post, headers: googleHeaders(channel: "g-chan", token: "google-token", resource: "res-1")
            ) { #expect($0.status == .ok) }
            try await eventually { !gate.notified.withLock { $0 }.isEmpty }
            #expect(try await store.pushChannel(id: "g-chan")?.deliveredAt != nil)
        }
    }

    @Test("a channel opened while the connection was disconnected is stopped at the provider and not kept")
    func disconnectedMeanwhile() async throws {
        let rig = freshRig()
        defer { forgetPushCalls(rig) }
        let connection = try await rig.connect()
        let store = MemoryPushStore()
        // The store writes the provisional record, then refuses: the connection stopped being active meanwhile.
        store.admits.withLock { $0 = { $0.resourceID == nil } }
        let handler = RenewPushHandler(environment: rig.environment, pushStore: store, push: push())
        let outcome = try await runHandler(handler, type: "renew_push", RenewPushPayload(memberID: "m-1", provider: .google), rig: rig)
        #expect(outcome == "skipped:not_connected")
        let calls = pushCalls.withLock { $0[ObjectIdentifier(rig.provider)] ?? [] }
        #expect(calls.count == 2 && calls[0].hasPrefix("open:") && calls[1].hasPrefix("stop:"), "calls: \(calls)")
        #expect(try await store.pushChannels(connectionID: connection.id).isEmpty)
        #expect(store.states.withLock { $0[connection.id]?.0 } != .active)
    }

    @Test("renew_push and a disconnect share the connection's push lock: neither runs while the other does")
    func sharedLock() async throws {
        let rig = freshRig()
        defer { forgetPushCalls(rig) }
        _ = try await rig.connect()
        let store = MemoryPushStore()
        let held = try #require(try await rig.locks.acquire(pushLockKey("m-1", .google), ttl: .seconds(60)))
        let renew = RenewPushHandler(environment: rig.environment, pushStore: store, push: push())
        #expect(try await deferral(renew, type: "renew_push", RenewPushPayload(memberID: "m-1", provider: .google), rig: rig) != nil)
        let disconnect = PushAwareDisconnectHandler(
            wrapping: rig.handler(DisconnectCalendarPayload.jobType), environment: rig.environment, pushStore: store)
        let payload = ["member_id": "m-1", "actor_member_id": "m-1", "provider": "google"]
        #expect(try await deferral(disconnect, type: "disconnect_calendar", payload, rig: rig) != nil)
        #expect(try await rig.store.memberState("m-1")?.connection(.google)?.status == .active)
        #expect(pushCalls.withLock { $0[ObjectIdentifier(rig.provider)] } == nil)
        try await rig.locks.release(held)
        #expect(try await runHandler(disconnect, type: "disconnect_calendar", payload, rig: rig) == "completed")
    }
}
