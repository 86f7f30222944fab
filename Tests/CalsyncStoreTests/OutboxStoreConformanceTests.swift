import CalsyncStore
import CalsyncSync
import CalsyncSyncTesting
import Foundation
import Testing

/// The outbox of two-way changes and video links (migration 14, review finding 3) on both stores: recorded but
/// unpublished rows are listed until marked published.
@Suite("Two-way outbox: PostgreSQL and in memory")
struct OutboxStoreConformanceTests {
    typealias Base = SyncStoreConformanceTests

    @Test("an external change stays unpublished until marked", arguments: Base.Kind.allCases)
    func changes(kind: Base.Kind) async throws {
        try await Base.with(kind) { subject in
            let store = subject.store
            let connection = try await Base.connect(store)
            try await ExternalChangeStoreConformanceTests.record(store, connection: connection, appointment: "a-1", revision: 2)
            let t0 = ExternalChangeStoreConformanceTests.t0
            let moved = ExternalChange(
                memberID: "m-1", appointmentID: "a-1", provider: .google, appliedRevision: 2, change: .moved,
                startsAt: t0.addingTimeInterval(600), endsAt: t0.addingTimeInterval(4200), detectedAt: t0)
            #expect(try await store.unpublishedExternalChanges(memberID: "m-1").isEmpty)
            #expect(try await store.recordExternalChange(moved))
            let pending = try await store.unpublishedExternalChanges(memberID: "m-1")
            #expect(pending.map(\.change) == [moved])
            #expect(try await store.recordExternalChange(moved) == false, "still recorded once")
            #expect(try await store.unpublishedExternalChanges(memberID: "m-1").count == 1)
            #expect(try await store.unpublishedExternalChanges(memberID: "m-2").isEmpty)
            try await store.markExternalChangePublished(id: try #require(pending.first).id)
            #expect(try await store.unpublishedExternalChanges(memberID: "m-1").isEmpty)
        }
    }

    @Test("a recorded video URL stays unpublished until that URL is marked", arguments: Base.Kind.allCases)
    func videoLinks(kind: Base.Kind) async throws {
        try await Base.with(kind) { subject in
            let store = subject.store
            let connection = try await Base.connect(store)
            try await ExternalChangeStoreConformanceTests.record(store, connection: connection, appointment: "a-1", revision: 2)
            let url = "https://meet.google.com/abc-defg-hij"
            let links = try await store.unpublishedVideoLinks(memberID: "m-1")
            #expect(links == [UnpublishedVideoLink(memberID: "m-1", appointmentID: "a-1", url: url, provider: connection.provider)])
            try await store.markVideoLinkPublished(memberID: "m-1", appointmentID: "a-1", url: "https://other.example/x")
            #expect(try await store.unpublishedVideoLinks(memberID: "m-1").count == 1, "only the recorded URL marks it")
            try await store.markVideoLinkPublished(memberID: "m-1", appointmentID: "a-1", url: url)
            #expect(try await store.unpublishedVideoLinks(memberID: "m-1").isEmpty)
        }
    }
}
