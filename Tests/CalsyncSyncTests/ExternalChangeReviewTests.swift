import CalsyncSync
import CalsyncSyncTesting
import Foundation
import Synchronization
import Testing

/// Review findings 1 (second half), 2, 3 and 7 through the handlers, over the in-memory doubles.
@Suite("Two-way and video links: review fixes, in process")
struct ExternalChangeReviewTests {
    static func exported(_ rig: SyncTestRig) throws -> (id: String, start: Date, end: Date) {
        try ExternalChangeHandlerTests.exported(rig)
    }

    @Test("a provider that does not report own events is never compared (all would look deleted)")
    func notComparedWithoutOwnEvents() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        rig.provider.state.withLock {
            $0.reportsOwnEvents = false
            $0.hidesOwnEvents = true
        }
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
        #expect(rig.store.externalChanges(memberID: "m-1").isEmpty)
        #expect(!rig.events.types.contains("appointment.changed_externally"))
    }

    @Test("restore is asked for a new change only, not on every import that sees the same state")
    func restoreOnlyForNewChange() async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect()
        rig.store.setExternalChanges(.restore, connectionID: connection.id)
        #expect(try await rig.run(.export(revision: 2)) == "completed")
        // A read that hides the restored event shows the same "deleted" state after each restore.
        rig.provider.state.withLock { $0.hidesOwnEvents = true }
        #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
        #expect(try await rig.runEnqueued() == ["completed"], "the change is restored once")
        for _ in 0..<2 {
            #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
            #expect(try await rig.runEnqueued().isEmpty, "the same state again is no new change: no restore")
        }
        #expect(rig.store.externalChanges(memberID: "m-1").map(\.change) == [.deleted])
        #expect(rig.events.types.filter { $0 == "appointment.changed_externally" }.count == 1)
    }

    @Test("an own event a delta reports removed because it left the window is read again: moved, not deleted")
    func removedFromDeltaIsConfirmed() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        rig.provider.state.withLock { $0.removalsNeedConfirmation = true }
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
        let event = try Self.exported(rig)
        let later = event.start.addingTimeInterval(200 * 86_400)
        rig.provider.memberMovesOutOfWindow(event.id, to: later, end: later.addingTimeInterval(1800))
        #expect(try await rig.run(.importWindow()) == "completed")
        #expect(rig.provider.state.withLock { $0.confirmedRemovals } == [event.id])
        var changes = rig.store.externalChanges(memberID: "m-1")
        #expect(changes.map(\.change) == [.moved])
        #expect(changes.first?.startsAt == later)

        // A real deletion is confirmed as gone.
        rig.provider.memberDeletes(event.id)
        #expect(try await rig.run(.importWindow()) == "completed")
        changes = rig.store.externalChanges(memberID: "m-1")
        #expect(changes.map(\.change) == [.moved, .deleted])
    }

    @Test("a change whose publish failed is published by the next import, once")
    func changeOutbox() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        let event = try Self.exported(rig)
        rig.provider.memberMoves(event.id, to: event.start.addingTimeInterval(3600), end: event.end.addingTimeInterval(3600))
        rig.events.failures.withLock { $0 = 1 }
        #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
        #expect(rig.store.externalChanges(memberID: "m-1").count == 1)
        #expect(!rig.events.types.contains("appointment.changed_externally"), "the publish failed")
        #expect(try await rig.run(.importWindow()) == "completed")
        #expect(rig.events.types.filter { $0 == "appointment.changed_externally" }.count == 1, "published by the next import")
        #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
        #expect(rig.events.types.filter { $0 == "appointment.changed_externally" }.count == 1, "and only once")
    }

    @Test("a video link whose publish failed is published by the member's next import, once")
    func videoLinkOutbox() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        rig.provider.state.withLock { $0.videoOutcomes = [.link("https://meet.example/abc")] }
        rig.events.failures.withLock { $0 = 1 }
        #expect(try await rig.run(.export(revision: 1) { $0.video = "google_meet" }) == "completed")
        #expect(rig.store.export(memberID: "m-1", appointmentID: "a-1")?.videoURL == "https://meet.example/abc")
        #expect(!rig.events.types.contains("appointment.video_link"), "the publish failed")
        #expect(try await rig.run(.importWindow()) == "completed")
        let links = rig.events.published.filter { $0.type == "appointment.video_link" }
        #expect(links.count == 1 && links.first?.fields["url"] == "https://meet.example/abc")
        #expect(links.first?.fields["appointment_id"] == "a-1")
        #expect(try await rig.run(.importWindow()) == "completed")
        #expect(rig.events.types.filter { $0 == "appointment.video_link" }.count == 1)
    }

    @Test("a Meet link still pending stores no content hash and is read again later, then recorded and published")
    func pendingVideoIsRechecked() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        rig.provider.state.withLock { $0.videoOutcomes = [.pending, .link("https://meet.example/late")] }
        let job = TestJob.export(revision: 1) { $0.video = "google_meet" }
        #expect(try await rig.run(job, id: "export-1") == "deferred:verify_pending")
        var state = rig.store.export(memberID: "m-1", appointmentID: "a-1")
        #expect(state?.contentHash == nil && state?.videoURL == nil && state?.verifyAfter != nil)
        #expect(!rig.events.types.contains("appointment.video_link"))
        // The deferral's time has come.
        rig.store.state.withLock { state in
            for key in state.exports.keys { state.exports[key]?.verifyAfter = Date().addingTimeInterval(-1) }
        }
        #expect(try await rig.run(job, id: "export-1") == "completed")
        state = rig.store.export(memberID: "m-1", appointmentID: "a-1")
        #expect(state?.videoURL == "https://meet.example/late" && state?.contentHash != nil && state?.verifyAfter == nil)
        #expect(rig.events.published.filter { $0.type == "appointment.video_link" }.map { $0.fields["url"] } == ["https://meet.example/late"])
    }
}
