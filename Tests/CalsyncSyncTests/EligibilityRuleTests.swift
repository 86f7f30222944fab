import Synchronization
import CalsyncSync
import CalsyncSyncTesting
import Foundation
import Testing

/// Contract §4, eligibility: for a member of an ineligible organization no provider is called, no token is
/// refreshed, nothing is deleted, and every job type ends as skipped; credentials and mappings are kept.
@Suite("Eligibility, in process")
struct EligibilityRuleTests {
    /// Every job type of contract §2, for member `m-1`.
    static let jobs: [(String, TestJob)] = [
        ("export_appointment", .export(revision: 2)),
        ("delete_external_event", .delete(revision: 2)),
        ("import_window", .importWindow()),
        ("refresh_token", .refreshToken(force: true)),
        ("connect_calendar", .connect(code: "code-2")),
        ("disconnect_calendar", .disconnect()),
    ]

    /// The ways an organization is not eligible.
    enum Ineligible: String, CaseIterable {
        case syncOff, planFree
    }

    @Test("an ineligible organization: skipped, no provider call, nothing deleted, credentials kept",
          arguments: Ineligible.allCases, 0..<jobs.count)
    func skippedWithoutACall(_ why: Ineligible, _ index: Int) async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect(expiresIn: 60)  // due for a refresh: none may happen
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        rig.provider.setBusy([BusyEvent(
            externalEventID: "busy-1", calendarID: rig.provider.primaryCalendarID, start: Date().addingTimeInterval(3600),
            end: Date().addingTimeInterval(7200), isAllDay: false)])
        #expect(try await rig.run(.importWindow()) == "completed")
        let callsBefore = rig.provider.calls().count
        let credentials = rig.store.connection(connection.id)?.record.credentials
        switch why {
        case .syncOff: rig.store.setOrganization("org-1", syncEnabled: false)
        case .planFree: rig.store.setOrganization("org-1", plan: "free")
        }

        let (type, job) = Self.jobs[index]
        #expect(try await rig.run(job) == "skipped:ineligible", "\(type)")

        #expect(rig.provider.calls().count == callsBefore, "\(type) called the provider")
        #expect(rig.provider.events().count == 1, "the exported event stays")
        #expect(rig.store.blocks(memberID: "m-1").keys.sorted() == ["busy-1"], "busy blocks stay")
        let row = try #require(rig.store.connection(connection.id))
        #expect(row.record.status == .active && row.record.credentials == credentials && credentials != nil)
        #expect(rig.store.export(memberID: "m-1", appointmentID: "a-1")?.appliedRevision == 1, "mappings stay")
        #expect(rig.enqueuer.enqueued().isEmpty && rig.events.published.isEmpty)
    }

    @Test("eligible again: sync resumes with the kept credentials and mapping (the same event is updated)")
    func resumesWhenEligibleAgain() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        rig.store.setOrganization("org-1", syncEnabled: false)
        #expect(try await rig.run(.export(revision: 2) { $0.move(toDay: 2) }) == "skipped:ineligible")
        rig.store.setOrganization("org-1", syncEnabled: true)
        #expect(try await rig.run(.export(revision: 3) { $0.move(toDay: 3) }) == "completed")
        #expect(rig.provider.events().map(\.rendered.start) == [TestJob.Appointment.day(3)])
        #expect(rig.provider.state.withLock { $0.creates } == 1)
    }
}
