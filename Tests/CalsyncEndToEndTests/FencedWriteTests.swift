import CalsyncRedis
import CalsyncSandbox
import Foundation
import Testing

/// Contract §4: the newest revision wins at the provider, not only in PostgreSQL. A request of an older
/// revision that lands late (held by the provider, answered too late, or never answered) must not leave
/// the event as that older revision said.
@Suite("Fenced provider writes end to end")
struct FencedWriteTests {
    static let providers: [SandboxProvider] = [.google, .microsoft]

    /// The create of revision 1 is held by the provider for longer than the lease (3 s) but within the
    /// request timeout. Before locks lived as long as their jobs, the cancel (revision 2) took the expired
    /// lock, found nothing to delete, and the create landed afterwards: a cancelled appointment stayed in
    /// the calendar for good.
    @Test("a create held longer than the lease, overtaken by a cancel: no event", arguments: providers)
    func slowCreateOvertakenByCancel(provider: SandboxProvider) async throws {
        try await SyncWorld.withConnectedMember(provider) { world, account in
            var fault = SandboxFault(kind: .hang(milliseconds: 6000))
            fault.method = "POST"
            fault.pathContains = "/events"
            fault.remaining = 1
            _ = world.sandbox.addFault(fault)
            try await world.export("m-1", "a-1", revision: 1)
            try await eventually("the export to be claimed", timeout: .seconds(10)) {
                try await world.redis.send(["ZCARD", "\(world.prefix):leases"]).int == 1
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(world.providerEvents(account).isEmpty, "the create is still held")
            try await world.export("m-1", "a-1", revision: 2, status: "cancelled")
            try await world.idle(timeout: .seconds(40))
            #expect(world.providerEvents(account).isEmpty, "\(world.providerEvents(account).map(\.json))\n\(world.allLogs)")
        }
    }

    /// The create of revision 1 gets no answer within the request timeout (1 s), and the provider applies it
    /// 2.5 s after it arrived. The cancel (revision 2) runs in between: it deletes nothing, and must come
    /// back once the older request can no longer land (window 2 s + settle 2 s) to delete the event.
    @Test("a create whose answer never came lands after the cancel: the cancel verifies and deletes it", arguments: providers)
    func timedOutCreateLandsAfterCancel(provider: SandboxProvider) async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try world.startWorker([
                "CALSYNC_PROVIDER_TIMEOUT_SECONDS": "1", "CALSYNC_PROVIDER_WRITE_SETTLE_SECONDS": "2",
                "CALSYNC_JOB_TIMEOUT_SECONDS": "10",
            ])
            let account = try await world.connect("m-1", provider: provider)
            var fault = SandboxFault(kind: .hang(milliseconds: 2500))
            fault.method = "POST"
            fault.pathContains = "/events"
            fault.remaining = 1
            _ = world.sandbox.addFault(fault)
            try await world.export("m-1", "a-1", revision: 1)
            // The first create times out after 1 s; the cancel runs while the provider still holds it.
            try await eventually("revision 1 to time out", timeout: .seconds(10), context: world.allLogs) {
                world.allLogs.contains("job failed; will retry")
            }
            try await world.export("m-1", "a-1", revision: 2, status: "cancelled")
            try await eventually("the held create to land", timeout: .seconds(10)) {
                world.providerEvents(account).count == 1
            }
            try await world.idle(timeout: .seconds(40))
            #expect(world.providerEvents(account).isEmpty, "\(world.providerEvents(account).map(\.json))\n\(world.allLogs)")
            let row = try #require(try await world.connection("m-1", provider))
            #expect(row.lastOutboundError == nil)
        }
    }
    /// Conditional writes: a move (revision 2) held by the provider past its request timeout carries the
    /// version calsync had written (`If-Match`); revision 3 writes first and changes that version, so when the
    /// held move is finally applied the provider refuses it (412) instead of moving the event back.
    @Test("a held move of an older revision lands after a newer one: the provider refuses it", arguments: providers)
    func heldMoveRefusedByIfMatch(provider: SandboxProvider) async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try world.startWorker([
                "CALSYNC_PROVIDER_TIMEOUT_SECONDS": "1", "CALSYNC_PROVIDER_WRITE_SETTLE_SECONDS": "2",
                "CALSYNC_JOB_TIMEOUT_SECONDS": "10",
            ])
            let account = try await world.connect("m-1", provider: provider)
            try await world.export("m-1", "a-1", revision: 1)
            try await world.idle()
            var fault = SandboxFault(kind: .hang(milliseconds: 2500))
            fault.method = "PATCH"
            fault.remaining = 1
            _ = world.sandbox.addFault(fault)
            world.sandbox.clearRequests()
            try await world.export("m-1", "a-1", revision: 2, start: "\(TestDay.d(0))T15:00:00Z", end: "\(TestDay.d(0))T16:00:00Z")
            try await eventually("revision 2 to time out", timeout: .seconds(10), context: world.allLogs) {
                world.allLogs.contains("job failed; will retry")
            }
            try await world.export("m-1", "a-1", revision: 3, start: "\(TestDay.d(0))T17:00:00Z", end: "\(TestDay.d(0))T18:00:00Z")
            try await eventually("the held move to be answered", timeout: .seconds(10)) {
                world.sandbox.requests().filter { $0.method == "PATCH" }.count >= 2
            }
            try await world.idle(timeout: .seconds(40))
            let events = world.providerEvents(account)
            #expect(events.count == 1)
            #expect(events.first?.event.start == instant("\(TestDay.d(0))T17:00:00Z"), "\(events.map(\.json))")
            let patches = world.sandbox.requests().filter { $0.method == "PATCH" }.map(\.status)
            #expect(patches.contains(412), "the late move was refused: \(patches)")
        }
    }
}
