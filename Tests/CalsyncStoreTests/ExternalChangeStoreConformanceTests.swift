import CalsyncStore
import CalsyncSync
import CalsyncSyncTesting
import Foundation
import Testing

/// Two-way's store rules (contract §8) on both stores: which exports are settled, changes recorded once, a
/// restore marks the applied revision once.
@Suite("External changes: PostgreSQL and in memory")
struct ExternalChangeStoreConformanceTests {
    typealias Base = SyncStoreConformanceTests
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func record(_ store: any SyncStore, connection: ConnectionRecord, appointment: String, revision: Int64) async throws {
        var state = ExportState(
            appliedRevision: revision, connectionID: connection.id, calendarID: "cal", externalEventID: "e-\(appointment)",
            contentHash: "h", eventPresent: true)
        state.written = DateInterval(start: t0, end: t0.addingTimeInterval(3600))
        state.appliedPayload = Array(#"{"member_id":"m-1"}"#.utf8)
        state.videoURL = "https://meet.google.com/abc-defg-hij"
        #expect(try await store.recordExport(
            memberID: "m-1", appointmentID: appointment, revision: revision, state: state, calledConnectionID: nil))
    }

    @Test("only settled exports are compared; their written times, payload and video URL are kept", arguments: Base.Kind.allCases)
    func settled(kind: Base.Kind) async throws {
        try await Base.with(kind) { subject in
            let store = subject.store
            let connection = try await Base.connect(store)
            try await Self.record(store, connection: connection, appointment: "a-1", revision: 2)
            try await Self.record(store, connection: connection, appointment: "a-2", revision: 2)
            // A write of a newer revision of a-2 is under way.
            try await store.beginProviderWrite(
                ProviderWriteIntent(memberID: "m-1", appointmentID: "a-2", revision: 3, token: "t", settlesAt: Date().addingTimeInterval(60)))
            let found = try await store.exportedEvents(memberID: "m-1", connectionID: connection.id, calendarID: "cal")
            #expect(found.mode == .notify)
            let byID = Dictionary(uniqueKeysWithValues: found.events.map { ($0.appointmentID, $0) })
            #expect(byID["a-1"]?.settled == true && byID["a-2"]?.settled == false)
            #expect(byID["a-1"]?.written?.start == Self.t0 && byID["a-1"]?.externalEventID == "e-a-1")
            #expect(byID["a-1"]?.appliedPayload == Array(#"{"member_id":"m-1"}"#.utf8))
            let fence = try await store.exportState(memberID: "m-1", appointmentID: "a-1", revision: 3)
            #expect(fence.state?.videoURL == "https://meet.google.com/abc-defg-hij")
            #expect(try await store.exportedEvents(memberID: "m-1", connectionID: connection.id, calendarID: "other").events.isEmpty)
        }
    }

    @Test("a change is recorded once; a restore marks the applied revision once", arguments: Base.Kind.allCases)
    func once(kind: Base.Kind) async throws {
        try await Base.with(kind) { subject in
            let store = subject.store
            let connection = try await Base.connect(store)
            try await Self.record(store, connection: connection, appointment: "a-1", revision: 2)
            let moved = ExternalChange(
                memberID: "m-1", appointmentID: "a-1", provider: .google, appliedRevision: 2, change: .moved,
                startsAt: Self.t0.addingTimeInterval(600), endsAt: Self.t0.addingTimeInterval(4200))
            #expect(try await store.recordExternalChange(moved))
            #expect(try await store.recordExternalChange(moved) == false)
            let deleted = ExternalChange(
                memberID: "m-1", appointmentID: "a-1", provider: .google, appliedRevision: 2, change: .deleted, startsAt: nil, endsAt: nil)
            #expect(try await store.recordExternalChange(deleted))
            #expect(try await store.recordExternalChange(deleted) == false)

            #expect(try await store.requestRestore(memberID: "m-1", appointmentID: "a-1", revision: 1) == false)
            #expect(try await store.requestRestore(memberID: "m-1", appointmentID: "a-1", revision: 2))
            #expect(try await store.requestRestore(memberID: "m-1", appointmentID: "a-1", revision: 2) == false)
            let found = try await store.exportedEvents(memberID: "m-1", connectionID: connection.id, calendarID: "cal")
            #expect(found.events.first?.settled == false, "a pending restore is calsync's own write")
        }
    }
}
