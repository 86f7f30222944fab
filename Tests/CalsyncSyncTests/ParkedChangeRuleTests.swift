import Synchronization
import CalsyncSync
import CalsyncSyncTesting
import Foundation
import Testing

/// Contract §4, parking: exports that arrive while their connection is `reconnect_required` or
/// `disconnected`, or the organization is ineligible, are parked; the latest parked revision of each
/// appointment that has not ended is exported once when they can run again.
@Suite("Parked exports, in process")
struct ParkedChangeRuleTests {
    @Test("reconnect required: parked with no call; the reconnect replays only the latest revision, once")
    func reconnectReplaysTheLatestRevisionOnce() async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect()
        try await rig.store.setStatus(connectionID: connection.id, status: .reconnectRequired, detail: "revoked")
        #expect(try await rig.run(.export(revision: 1)) == "skipped:reconnect_required")
        #expect(try await rig.run(.export(revision: 2) { $0.move(toDay: 2) }) == "skipped:reconnect_required")
        #expect(try await rig.run(.export(revision: 1)) == "skipped:reconnect_required")
        #expect(rig.provider.calls().isEmpty)
        #expect(rig.store.parked(memberID: "m-1", appointmentID: "a-1")?.revision == 2)

        #expect(try await rig.run(.connect()) == "completed")
        #expect(rig.store.connection(connection.id)?.record.status == .active, "renewed in place")
        let replays = rig.enqueuer.enqueued(ExportAppointmentPayload.jobType)
        #expect(replays.map(\.id) == ["replay-a-1-2"])
        #expect(try await rig.runEnqueued().sorted() == ["completed", "completed"])  // the import and the replay
        #expect(rig.provider.events().map(\.rendered.start) == [TestJob.Appointment.day(2)])
        #expect(rig.provider.state.withLock { $0.creates } == 1)

        // Any later job of the member finds nothing left to replay.
        #expect(try await rig.run(.importWindow()) == "completed")
        #expect(rig.enqueuer.enqueued().isEmpty)
    }

    @Test("a disconnected connection parks exports; a reconnect replays them")
    func disconnectedParks() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        #expect(try await rig.run(.disconnect()) == "completed")
        #expect(try await rig.run(.export(revision: 1)) == "skipped:disconnected")
        #expect(rig.provider.calls().isEmpty)
        #expect(try await rig.run(.connect()) == "completed")
        try await rig.runEnqueued()
        #expect(rig.provider.events().count == 1)
    }

    @Test("the organization flipped back: the member's next job replays its parked export, once, with no job of its own")
    func eligibleAgainReplaysOnTheNextJob() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        rig.store.setOrganization("org-1", plan: "free")
        #expect(try await rig.run(.export(revision: 1)) == "skipped:ineligible")
        #expect(try await rig.run(.delete(appointment: "a-2", revision: 4)) == "skipped:ineligible")
        rig.store.setOrganization("org-1", plan: "advanced")
        #expect(try await rig.run(.importWindow()) == "completed")
        #expect(rig.enqueuer.enqueued().map(\.id).sorted() == ["replay-a-1-1", "replay-a-2-4"])
        #expect(try await rig.runEnqueued() == ["completed", "completed"])
        #expect(rig.provider.events().count == 1)
        #expect(try await rig.run(.importWindow()) == "completed")
        #expect(rig.enqueuer.enqueued().isEmpty, "replayed once")
    }

    @Test("a parked export of an appointment that has ended is dropped, not replayed")
    func endedAppointmentsAreNotReplayed() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        rig.store.setOrganization("org-1", syncEnabled: false)
        let past = Date().addingTimeInterval(-7200).rounded
        #expect(try await rig.run(.export(revision: 1) { $0.starts_at = past; $0.ends_at = past.addingTimeInterval(3600) })
            == "skipped:ineligible")
        rig.store.setOrganization("org-1", syncEnabled: true)
        #expect(try await rig.run(.importWindow()) == "completed")
        #expect(rig.enqueuer.enqueued().isEmpty)
        #expect(rig.store.parked(memberID: "m-1", appointmentID: "a-1") == nil)
    }

    @Test("two jobs of one member replay a parked change once; after the guard it may be replayed again")
    func replayGuard() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        rig.store.setOrganization("org-1", syncEnabled: false)
        #expect(try await rig.run(.export(revision: 1)) == "skipped:ineligible")
        rig.store.setOrganization("org-1", syncEnabled: true)
        async let first = rig.run(.importWindow())
        async let second = rig.run(.delete(appointment: "a-9", revision: 1))
        _ = try await (first, second)
        #expect(rig.enqueuer.take().map(\.id) == ["replay-a-1-1"])
        rig.store.age(by: InMemorySyncStore.replayGuard + 1)
        #expect(try await rig.run(.importWindow()) == "completed")
        #expect(rig.enqueuer.take().map(\.id) == ["replay-a-1-1"], "a replay that never ran is enqueued again")
    }
}
