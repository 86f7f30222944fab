import Synchronization
import CalsyncJobs
import CalsyncSync
import CalsyncSyncTesting
import Foundation
import Testing

/// Contract §2 `export_appointment` and `delete_external_event`, and §4: one event per appointment
/// whatever the duplicates and retries, and the newest revision wins at the provider too.
@Suite("Exports, in process")
struct ExportRuleTests {
    @Test("create, move, cancel: one event that follows the appointment, then none")
    func oneEventFollowsTheAppointment() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        let later = Date().addingTimeInterval(2 * 86_400).rounded
        #expect(try await rig.run(.export(revision: 2) { $0.starts_at = later; $0.ends_at = later.addingTimeInterval(1800) })
            == "completed")
        let events = rig.provider.events()
        #expect(events.count == 1 && events.first?.rendered.start == later)
        #expect(try await rig.run(.export(revision: 3) { $0.status = "cancelled" }) == "completed")
        #expect(rig.provider.events().isEmpty)
        #expect(rig.store.export(memberID: "m-1", appointmentID: "a-1")?.eventPresent == false)
        #expect(try await rig.run(.export(revision: 4) { $0.counts_as_busy = true }) == "completed", "booked again")
        #expect(rig.provider.events().count == 1)
        // Created in a new generation (Graph refuses the first create's transaction id for ever).
        #expect(rig.provider.calls(.upsertEvent).map(\.generation) == [nil, nil, 3])
    }

    @Test("duplicate jobs, retries and concurrent runs of one revision: one event, one create")
    func duplicatesMakeOneEvent() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        async let a = rig.run(.export(revision: 1))
        async let b = rig.run(.export(revision: 1))
        let outcomes = try await [a, b]
        #expect(outcomes.contains("completed"))
        #expect(outcomes.allSatisfy { ["completed", "skipped:stale_revision", "deferred:locked"].contains($0) })
        #expect(try await rig.run(.export(revision: 1)) == "skipped:stale_revision")
        #expect(rig.provider.events().count == 1)
        #expect(rig.provider.state.withLock { $0.creates } == 1)
    }

    @Test("a retry after a provider failure lands on the same event")
    func retryAfterFailure() async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect()
        rig.provider.script(.upsertEvent, .fail(.retryable("server_error", status: 503, "Google answered 503")))
        #expect(try await rig.run(.export(revision: 1)) == "retryable:server_error")
        #expect(rig.store.connection(connection.id)?.lastOutboundError != nil)
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        #expect(rig.provider.events().count == 1)
        #expect(rig.store.connection(connection.id)?.lastOutboundError == nil, "the success clears the error")
    }

    @Test("a revision not newer than the applied one is skipped without a call")
    func staleRevisionSkipped() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        #expect(try await rig.run(.export(revision: 5) { $0.move(toDay: 5) }) == "completed")
        #expect(try await rig.run(.export(revision: 4) { $0.move(toDay: 4) }) == "skipped:stale_revision")
        #expect(rig.provider.calls(.upsertEvent).count == 1)
        #expect(rig.provider.events().map(\.rendered.start) == [TestJob.Appointment.day(5)])
    }

    @Test("a status-only change writes nothing to the provider")
    func statusOnlyWritesNothing() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        #expect(try await rig.run(.export(revision: 2) { $0.status = "attended" }) == "skipped:unchanged")
        #expect(rig.provider.calls(.upsertEvent).count == 1)
        #expect(rig.store.export(memberID: "m-1", appointmentID: "a-1")?.appliedRevision == 2)
    }

    @Test("a create whose answer never came lands after the cancel: the cancel verifies later and deletes it")
    func unsettledOlderWriteIsVerified() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        rig.provider.script(.upsertEvent, .noAnswer(.retryable("timeout", "no answer from Google")))
        #expect(try await rig.run(.export(revision: 1)) == "retryable:timeout")
        #expect(rig.store.intents(memberID: "m-1", appointmentID: "a-1").count == 1, "the create's outcome is unknown")

        // The cancel writes (a delete by marker) although nothing was recorded, and must come back.
        #expect(try await rig.run(.export(revision: 2) { $0.status = "cancelled" }) == "deferred:verify_pending")
        #expect(rig.provider.calls(.deleteEvent).count == 1)
        #expect(rig.store.export(memberID: "m-1", appointmentID: "a-1")?.verifyAfter != nil)

        rig.provider.landHeldWrites()  // the old create lands now, after the cancel
        #expect(rig.provider.events().count == 1)
        // Not before the older write settled: deferred again, no call.
        #expect(try await rig.run(.export(revision: 2) { $0.status = "cancelled" }) == "deferred:verify_pending")
        #expect(rig.provider.calls(.deleteEvent).count == 1)

        rig.store.age(by: 3600)
        #expect(try await rig.run(.export(revision: 2) { $0.status = "cancelled" }) == "completed")
        #expect(rig.provider.events().isEmpty, "the newest revision wins at the provider")
        #expect(rig.store.export(memberID: "m-1", appointmentID: "a-1")?.verifyAfter == nil)
        #expect(try await rig.run(.export(revision: 2) { $0.status = "cancelled" }) == "skipped:stale_revision")
    }

    @Test("a move that may land late, then a revision that looks unchanged: it writes anyway, and verifies")
    func unchangedLookingRevisionWritesAfterAnUnsettledOne() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        let moved = Date().addingTimeInterval(3 * 86_400).rounded
        rig.provider.script(.upsertEvent, .noAnswer(.retryable("timeout", "no answer from Google")))
        #expect(try await rig.run(.export(revision: 2) { $0.starts_at = moved; $0.ends_at = moved.addingTimeInterval(3600) })
            == "retryable:timeout")
        // Revision 3 renders like revision 1 (status only): with an unsettled write it still writes.
        #expect(try await rig.run(.export(revision: 3) { $0.status = "attended" }) == "deferred:verify_pending")
        #expect(rig.provider.calls(.upsertEvent).count == 3)
        rig.provider.landHeldWrites()
        #expect(rig.provider.events().first?.rendered.start == moved)
        rig.store.age(by: 3600)
        #expect(try await rig.run(.export(revision: 3) { $0.status = "attended" }) == "completed")
        #expect(rig.provider.events().first?.rendered.start != moved)
        #expect(rig.provider.events().count == 1)
    }

    @Test("a refused write settles at once: the next revision needs no verification")
    func refusedWriteSettles() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        rig.provider.script(.upsertEvent, .fail(.retryable("server_busy", status: 429, "slow down")))
        _ = try await rig.run(.export(revision: 1))
        #expect(rig.store.intents(memberID: "m-1", appointmentID: "a-1").isEmpty)
        #expect(try await rig.run(.export(revision: 2)) == "completed")
    }

    @Test("a job that lost its lease makes no provider call")
    func lostLeaseStopsBeforeTheCall() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        let lost = JobRun(deadline: .now + .seconds(60), heldUntil: .now - .seconds(1))
        await #expect(throws: JobRunStopped.self) { try await rig.run(.export(revision: 1), run: lost) }
        #expect(rig.provider.calls().isEmpty)
        #expect(rig.store.intents(memberID: "m-1", appointmentID: "a-1").isEmpty, "nothing went out: settled")
    }

    @Test("delete_external_event removes the event and records the revision: an older export does nothing")
    func deleteRecordsTheRevision() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        #expect(try await rig.run(.delete(revision: 2)) == "completed")
        #expect(rig.provider.events().isEmpty)
        #expect(try await rig.run(.export(revision: 1)) == "skipped:stale_revision")
        #expect(try await rig.run(.delete(revision: 2)) == "skipped:stale_revision")
        #expect(rig.provider.calls(.upsertEvent).count == 1 && rig.provider.calls(.deleteEvent).count == 1)
    }

    @Test("a delete that arrives before its export: no event, and the older export does nothing")
    func deleteBeforeExport() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        #expect(try await rig.run(.delete(revision: 2)) == "completed")
        #expect(try await rig.run(.export(revision: 1)) == "skipped:stale_revision")
        #expect(rig.provider.events().isEmpty && rig.provider.calls(.upsertEvent).isEmpty)
    }

    @Test("a rate limit defers the job with no provider call and no attempt burnt")
    func rateLimitDefers() async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect()
        rig.limiter.state.withLock { $0.decisions = [.denied(.seconds(5), limit: "connection")] }
        #expect(try await rig.run(.export(revision: 1)) == "deferred:rate_limited")
        #expect(rig.provider.calls().isEmpty)
        #expect(rig.store.connection(connection.id)?.rateLimitedUntil != nil)
        #expect(try await rig.run(.export(revision: 1)) == "completed")
    }

    @Test("a provider's 429 with Retry-After defers the job and holds every worker's requests for that connection")
    func providerRetryAfterPenalizes() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        rig.provider.script(.upsertEvent, .fail(.retryable("rate_limited", status: 429, retryAfter: .seconds(7), "slow down")))
        #expect(try await rig.run(.export(revision: 1)) == "deferred:rate_limited")
        #expect(rig.limiter.state.withLock { $0.penalties.contains { $0.2 == .seconds(7) && !$0.1 } })
    }
}
