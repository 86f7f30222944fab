import CalsyncJobs
import CalsyncSync
import CalsyncSyncTesting
import Foundation
import Synchronization
import Testing

/// The push calls of the rig's provider, per provider instance.
let pushCalls = Mutex<[ObjectIdentifier: [String]]>([:])
/// Runs before a channel of that provider instance is opened (with the channel id asked for); may throw.
let openHooks = Mutex<[ObjectIdentifier: @Sendable (String) async throws -> Void]>([:])

extension RecordingProvider: PushChannelProvider {
    package var maximumPushLifetime: Duration { .seconds(7 * 86_400) }

    package func openPushChannel(
        channelID: String, calendarID: String?, address: String, lifecycleAddress: String, secret: String, expiresAt: Date,
        credentials: ProviderCredentials
    ) async throws -> OpenedPushChannel {
        if let hook = openHooks.withLock({ $0[ObjectIdentifier(self)] }) { try await hook(channelID) }
        let id = calendarID == nil ? "chan-\(UUID().uuidString.prefix(8))" : channelID
        pushCalls.withLock { $0[ObjectIdentifier(self), default: []].append("open:\(calendarID ?? "-"):\(address)") }
        return OpenedPushChannel(channelID: id, resourceID: "res-\(calendarID ?? "-")", expiresAt: expiresAt)
    }

    package func renewPushChannel(_ channel: PushChannelRecord, expiresAt: Date, credentials: ProviderCredentials) async throws -> Date? {
        nil
    }

    package func stopPushChannel(_ channel: PushChannelRecord, credentials: ProviderCredentials) async throws {
        pushCalls.withLock { $0[ObjectIdentifier(self), default: []].append("stop:\(channel.channelID)") }
    }
}

/// Runs a handler on a job of `type` with `payload` in process; returns `completed` or `skipped:<reason>`.
func runHandler(_ handler: any JobHandler, type: String, _ payload: some Encodable, rig: SyncTestRig) async throws -> String {
    let bytes = Array(try JSONEncoder().encode(payload))
    let job = Job(id: "job-\(UUID().uuidString.prefix(8))", type: type, enqueuedAt: nil, payload: bytes, raw: bytes, attempt: 1)
    switch try await handler.handle(job, context: JobContext(logger: rig.logger, workerID: "test", deferrals: 0)) {
    case .completed: return "completed"
    case .skipped(let reason): return "skipped:\(reason)"
    }
}

@Suite("push: channel rules in process")
struct RenewPushRuleTests {
    func push(renewBefore: Int = 3600) -> PushConfiguration {
        var push = PushConfiguration()
        push.publicURL = "https://calsync.example.com/"
        push.renewBeforeSeconds = renewBefore
        return push
    }

    @Test("renew_push opens one channel per busy calendar, keeps a healthy one, and replaces one near expiry: new first, then stop the old")
    func opensAndRenews() async throws {
        let rig = freshRig()
        defer { forgetPushCalls(rig) }
        let connection = try await rig.connect()
        let store = MemoryPushStore()
        let payload = RenewPushPayload(memberID: "m-1", provider: .google)
        let handler = RenewPushHandler(environment: rig.environment, pushStore: store, push: push())
        #expect(try await runHandler(handler, type: "renew_push", payload, rig: rig) == "completed")
        let calls = { pushCalls.withLock { $0[ObjectIdentifier(rig.provider)] ?? [] } }
        #expect(calls() == ["open:\(rig.provider.primaryCalendarID):https://calsync.example.com/webhooks/google"])
        let first = try #require(try await store.pushChannels(connectionID: connection.id).first)
        #expect(first.secretHash.count == 64 && first.resourceID == "res-\(rig.provider.primaryCalendarID)")
        #expect(store.states.withLock { $0[connection.id]?.0 } == .active)
        // Healthy: nothing to do.
        #expect(try await runHandler(handler, type: "renew_push", payload, rig: rig) == "completed")
        #expect(calls().count == 1)
        // Within the renewal margin: a new channel, then the old one stopped and forgotten.
        let renewing = RenewPushHandler(environment: rig.environment, pushStore: store, push: push(renewBefore: 30 * 86_400))
        #expect(try await runHandler(renewing, type: "renew_push", payload, rig: rig) == "completed")
        #expect(calls().count == 3 && calls()[1].hasPrefix("open:") && calls()[2] == "stop:\(first.channelID)")
        let now = try await store.pushChannels(connectionID: connection.id)
        #expect(now.count == 1 && now[0].channelID != first.channelID)
        #expect(try await store.pushChannel(id: first.channelID) == nil)
    }

    @Test("without CALSYNC_PUBLIC_URL push is off, with a detail, and no provider is called")
    func noPublicURL() async throws {
        let rig = freshRig()
        defer { forgetPushCalls(rig) }
        let connection = try await rig.connect()
        let store = MemoryPushStore()
        let handler = RenewPushHandler(environment: rig.environment, pushStore: store, push: PushConfiguration())
        #expect(
            try await runHandler(handler, type: "renew_push", RenewPushPayload(memberID: "m-1", provider: .google), rig: rig)
                == "skipped:no_public_url")
        let state = store.states.withLock { $0[connection.id] }
        #expect(state?.0 == .off && state?.1?.contains("CALSYNC_PUBLIC_URL") == true)
        #expect(pushCalls.withLock { $0[ObjectIdentifier(rig.provider)] } == nil)
    }

    @Test("disconnect forgets and stops the channels before the credentials go, then disconnects")
    func disconnectStops() async throws {
        let rig = freshRig()
        defer { forgetPushCalls(rig) }
        let connection = try await rig.connect()
        let store = MemoryPushStore()
        let handler = RenewPushHandler(environment: rig.environment, pushStore: store, push: push())
        _ = try await runHandler(handler, type: "renew_push", RenewPushPayload(memberID: "m-1", provider: .google), rig: rig)
        let channel = try #require(try await store.pushChannels(connectionID: connection.id).first)
        let disconnect = PushAwareDisconnectHandler(
            wrapping: rig.handler(DisconnectCalendarPayload.jobType), environment: rig.environment, pushStore: store)
        let outcome = try await runHandler(
            disconnect, type: "disconnect_calendar",
            ["member_id": "m-1", "actor_member_id": "m-1", "provider": "google"], rig: rig)
        #expect(outcome == "completed")
        #expect(pushCalls.withLock { $0[ObjectIdentifier(rig.provider)] ?? [] }.last == "stop:\(channel.channelID)")
        #expect(try await store.pushChannels(connectionID: connection.id).isEmpty)
        #expect(store.states.withLock { $0[connection.id]?.0 } == .off)
        #expect(try await rig.store.memberState("m-1")?.connection(.google)?.status == .disconnected)
    }
}
