import Synchronization
import CalsyncSync
import CalsyncSyncTesting
import Foundation
import Testing

/// Contract §8 and §9 through the handlers, over the in-memory doubles: imports report a member's change once,
/// never calsync's own unsettled write; `restore` writes the applied revision back; video on a provider without it.
@Suite("Two-way and video links, in process")
struct ExternalChangeHandlerTests {
    static func exported(_ rig: SyncTestRig) throws -> (id: String, start: Date, end: Date) {
        let event = try #require(rig.provider.state.withLock { $0.events[rig.provider.primaryCalendarID]?.values.first })
        return (event.id, event.rendered.start, event.rendered.end)
    }

    @Test("a move and a delete are reported once, with the applied revision and the new times")
    func reportedOnce() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        #expect(try await rig.run(.export(revision: 4)) == "completed")
        #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
        #expect(rig.store.externalChanges(memberID: "m-1").isEmpty, "our own write read back is no change")

        let event = try Self.exported(rig)
        let moved = event.start.addingTimeInterval(7200)
        rig.provider.memberMoves(event.id, to: moved, end: moved.addingTimeInterval(1800))
        #expect(try await rig.run(.importWindow()) == "completed")
        #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
        var changes = rig.store.externalChanges(memberID: "m-1")
        #expect(changes.map(\.change) == [.moved])
        #expect(changes.first?.appliedRevision == 4 && changes.first?.startsAt == moved)
        #expect(rig.events.types.filter { $0 == "appointment.changed_externally" }.count == 1)
        #expect(rig.events.published.last?.fields["appointment_id"] == "a-1")

        rig.provider.memberDeletes(event.id)
        #expect(try await rig.run(.importWindow()) == "completed")
        #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
        changes = rig.store.externalChanges(memberID: "m-1")
        #expect(changes.map(\.change) == [.moved, .deleted])
        #expect(rig.events.types.filter { $0 == "appointment.changed_externally" }.count == 2)
    }

    @Test("an export whose write may still land, or that waits to be verified, is not compared")
    func unsettledNotCompared() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        let event = try Self.exported(rig)
        rig.provider.memberMoves(event.id, to: event.start.addingTimeInterval(600), end: event.end.addingTimeInterval(600))
        rig.store.state.withLock {
            $0.intents.append(
                ProviderWriteIntent(memberID: "m-1", appointmentID: "a-1", revision: 2, token: "t", settlesAt: Date().addingTimeInterval(60)))
        }
        #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
        #expect(rig.store.externalChanges(memberID: "m-1").isEmpty)
        rig.store.state.withLock { state in
            state.intents.removeAll()
            for key in state.exports.keys { state.exports[key]?.verifyAfter = Date().addingTimeInterval(60) }
        }
        #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
        #expect(rig.store.externalChanges(memberID: "m-1").isEmpty)
        rig.store.state.withLock { state in
            for key in state.exports.keys { state.exports[key]?.verifyAfter = nil }
        }
        #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
        #expect(rig.store.externalChanges(memberID: "m-1").count == 1, "settled now: the member's move")
    }

    @Test("restore writes the applied revision back through the export path, and that write is not reported")
    func restore() async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect()
        rig.store.setExternalChanges(.restore, connectionID: connection.id)
        #expect(try await rig.run(.export(revision: 3)) == "completed")
        let event = try Self.exported(rig)
        rig.provider.memberMoves(event.id, to: event.start.addingTimeInterval(3600), end: event.end.addingTimeInterval(3600))
        #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
        #expect(try await rig.runEnqueued() == ["completed"])
        let restored = try Self.exported(rig)
        #expect(restored.start == event.start && restored.end == event.end)
        #expect(rig.store.export(memberID: "m-1", appointmentID: "a-1")?.verifyAfter == nil)
        #expect(try await rig.run(.importWindow(fullResync: true)) == "completed")
        #expect(rig.store.externalChanges(memberID: "m-1").map(\.change) == [.moved])
        #expect(rig.events.published.last { $0.type == "appointment.changed_externally" }?.fields["resolution"] == "restore")
    }

    @Test("a provider without video links exports the event without one and says why (CalDAV)")
    func videoUnavailable() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        #expect(try await rig.run(.export(revision: 1) { $0.video = "google_meet" }) == "completed")
        #expect(try Self.exported(rig).id.isEmpty == false)
        #expect(rig.store.export(memberID: "m-1", appointmentID: "a-1")?.videoURL == nil)
        let unavailable = rig.events.published.filter { $0.type == "appointment.video_link_unavailable" }
        #expect(unavailable.count == 1 && unavailable.first?.fields["reason"] == "provider_has_no_video_links")
        // The same content again writes nothing and says nothing again; without `video`, nothing is said.
        #expect(try await rig.run(.export(revision: 2) { $0.video = "google_meet" }) == "skipped:unchanged")
        #expect(try await rig.run(.export(revision: 3) { $0.move(toDay: 2) }) == "completed")
        #expect(rig.events.published.filter { $0.type.hasPrefix("appointment.video") }.count == 1)
    }
}
