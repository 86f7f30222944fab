import CalsyncSandbox
import CalsyncSync
import Foundation
import Testing

/// Two-way capabilities through the real clients against the sandbox (review findings 1 and 2).
@Suite("Two-way: own events read again by id (Graph) and the providers' capabilities")
struct TwoWayProviderTests {
    @Test("Graph: an own event read by id shows its times now; a deleted one is gone")
    func graphReadsARemovedOwnEventAgain() async throws {
        try await ProviderTests.withHarness(.microsoft) { h in
            #expect(h.provider.reportsOwnEvents)
            let key = ExportKey(memberID: "m1", appointmentID: "apt-window")
            let event = ProviderTests.rendered(key, start: ProviderTests.hour(30))
            let written = try await h.provider.upsertEvent(
                event, key: key, calendarID: h.calendarID, knownEventID: nil, knownETag: nil, credentials: h.credentials)
            let now = try await h.provider.ownEventAfterRemoval(id: written.id, calendarID: h.calendarID, credentials: h.credentials)
            #expect(now == OwnEvent(externalEventID: written.id, start: event.start, end: event.end))
            h.sandbox.deleteEvent(.microsoft, email: h.email, calendarID: h.calendarID, eventID: written.id)
            let gone = try await h.provider.ownEventAfterRemoval(id: written.id, calendarID: h.calendarID, credentials: h.credentials)
            #expect(gone == nil)
        }
    }

    @Test("Google reports own events; its removals are deletions (no read again)")
    func googleCapabilities() async throws {
        try await ProviderTests.withHarness(.google) { h in
            #expect(h.provider.reportsOwnEvents)
            h.sandbox.clearRequests()
            let answer = try await h.provider.ownEventAfterRemoval(id: "x", calendarID: h.calendarID, credentials: h.credentials)
            #expect(answer == nil)
            #expect(h.sandbox.requests().isEmpty)
        }
    }
}
