import Synchronization
import CalsyncSync
import CalsyncSyncTesting
import Foundation
import Testing

/// Contract §2 `connect_calendar`, `disconnect_calendar`, `refresh_token`, and §4: `actor_member_id`,
/// `invalid_grant` → `reconnect_required`, one refresh at a time, and a disconnect that wins.
@Suite("Connections, in process")
struct ConnectionRuleTests {
    @Test("connect: one code exchange, the primary calendar as export and busy calendar, the first import enqueued")
    func connectCreatesTheConnection() async throws {
        let rig = SyncTestRig()
        #expect(try await rig.run(.connect()) == "completed")
        let state = try #require(try await rig.store.memberState("m-1"))
        let connection = try #require(state.connection(.google))
        #expect(connection.status == .active && connection.syncDirection == .both)
        #expect(connection.exportCalendarID == rig.provider.primaryCalendarID)
        #expect(connection.busyCalendarIDs == [rig.provider.primaryCalendarID])
        #expect(connection.accountEmail == rig.provider.accountEmail)
        #expect(rig.provider.calls(.exchangeCode).count == 1)
        #expect(rig.enqueuer.enqueued().map(\.type) == [ImportWindowPayload.jobType])
        #expect(rig.events.types == ["connection.connected"])
        let opened = try SyncTestRig.sealer.open(
            ProviderCredentials.self, from: try #require(connection.credentials),
            context: CredentialSealer.connectionContext(memberID: "m-1", provider: "google"))
        #expect(opened.refreshToken == "rt-1", "sealed, and bound to the member and provider")
    }

    @Test("a rerun of a connect after its save never redeems the code twice; it runs only the follow-ups")
    func connectRerunRedeemsOnce() async throws {
        let rig = SyncTestRig()
        #expect(try await rig.run(.connect(), id: "job-connect-1") == "completed")
        #expect(try await rig.run(.connect(), id: "job-connect-1") == "completed")
        #expect(rig.provider.calls(.exchangeCode).count == 1)
        #expect(rig.events.types == ["connection.connected"])
        #expect(rig.enqueuer.enqueued(ImportWindowPayload.jobType).map(\.id) == ["connect-import-job-connect-1", "connect-import-job-connect-1"])
    }

    @Test("a code refused as already used: dead as authorization_code_invalid, nothing saved")
    func refusedCode() async throws {
        let rig = SyncTestRig()
        #expect(try await rig.run(.connect(code: "c")) == "completed")
        #expect(try await rig.run(.connect(member: "m-1", code: "c")) == "permanent:authorization_code_invalid:authorization_code_invalid")
    }

    @Test("a reconnect renews the connection in place: mappings kept, the same event updated")
    func reconnectKeepsMappings() async throws {
        let rig = SyncTestRig()
        let first = try await rig.connect()
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        try await rig.store.setStatus(connectionID: first.id, status: .reconnectRequired, detail: "revoked")
        #expect(try await rig.run(.connect()) == "completed")
        #expect(try await rig.store.memberState("m-1")?.connections.map(\.id) == [first.id])
        #expect(try await rig.run(.export(revision: 2) { $0.move(toDay: 9) }) == "completed")
        #expect(rig.provider.events().map(\.rendered.start) == [TestJob.Appointment.day(9)])
        #expect(rig.provider.state.withLock { $0.creates } == 1)
    }

    @Test("only the member may connect or disconnect their calendar: dead as forbidden, no call", arguments: [
        TestJob.connect(member: "m-1", actor: "m-2"), TestJob.disconnect(member: "m-1", actor: "m-2"),
    ])
    func actorMustBeTheMember(_ job: TestJob) async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect()
        #expect(try await rig.run(job) == "permanent:forbidden:forbidden")
        #expect(rig.provider.calls().isEmpty)
        #expect(rig.store.connection(connection.id)?.record.status == .active)
    }

    @Test("invalid_grant: reconnect required with words to act on, the export parked, no further call")
    func invalidGrantNeedsAReconnect() async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect(expiresIn: 60)
        rig.provider.state.withLock { $0.revoked = true }
        #expect(try await rig.run(.export(revision: 1)) == "skipped:reconnect_required")
        let row = try #require(rig.store.connection(connection.id))
        #expect(row.record.status == .reconnectRequired)
        #expect(row.record.statusDetail?.contains("reconnect") == true)
        #expect(rig.events.types == ["connection.reconnect_required"])
        #expect(rig.store.parked(memberID: "m-1", appointmentID: "a-1")?.revision == 1)
        #expect(rig.provider.calls().map(\.operation) == [.refresh])

        #expect(try await rig.run(.export(revision: 2)) == "skipped:reconnect_required")
        #expect(try await rig.run(.importWindow()) == "skipped:no_busy_source")
        #expect(try await rig.run(.refreshToken(force: true)) == "skipped:not_connected")
        #expect(rig.provider.calls().count == 1, "no call until the member reconnects")
    }

    @Test("refresh_token refreshes only when due or forced, and stores the rotated refresh token")
    func refreshToken() async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect()
        #expect(try await rig.run(.refreshToken()) == "skipped:not_due")
        #expect(rig.provider.calls().isEmpty)
        #expect(try await rig.run(.refreshToken(force: true)) == "completed")
        let stored = try SyncTestRig.sealer.open(
            ProviderCredentials.self, from: try #require(rig.store.connection(connection.id)?.record.credentials),
            context: CredentialSealer.connectionContext(memberID: "m-1", provider: "google"))
        #expect(stored.accessToken == "at-fresh-1" && stored.refreshToken == "rt-fresh-1")
    }

    @Test("refresh_token with invalid_grant: reconnect required, skipped")
    func refreshTokenInvalidGrant() async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect(expiresIn: 60)
        rig.provider.state.withLock { $0.revoked = true }
        #expect(try await rig.run(.refreshToken()) == "skipped:reconnect_required")
        #expect(rig.store.connection(connection.id)?.record.status == .reconnectRequired)
    }

    @Test("jobs that find one expiring token refresh it once between them, and use the stored result")
    func oneRefreshAtATime() async throws {
        let rig = SyncTestRig()
        try await rig.connect(expiresIn: 60)
        rig.provider.script(.refresh, .delay(.milliseconds(20)))
        async let a = rig.run(.export(revision: 1) { $0.id = "a-1" })
        async let b = rig.run(.export(revision: 1) { $0.id = "a-2" })
        async let c = rig.run(.importWindow())
        #expect(try await [a, b, c] == ["completed", "completed", "completed"])
        #expect(rig.provider.calls(.refresh).count == 1)
        #expect(Set(rig.provider.calls(.upsertEvent).map(\.accessToken)) == ["at-fresh-1"])
    }

    @Test("a 401 refreshes the token once and retries once")
    func authExpiredRefreshesOnce() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        rig.provider.script(.upsertEvent, .fail(ProviderError(code: "unauthorized", kind: .authExpired, httpStatus: 401, message: "401")))
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        #expect(rig.provider.calls().map(\.operation) == [.upsertEvent, .refresh, .upsertEvent])
    }

    @Test("disconnect: status disconnected, credentials erased, busy blocks gone, the exported event stays; later exports make no call")
    func disconnect() async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect()
        #expect(try await rig.run(.export(revision: 1)) == "completed")
        rig.provider.setBusy([BusyEvent(
            externalEventID: "b", calendarID: rig.provider.primaryCalendarID, start: Date().addingTimeInterval(600),
            end: Date().addingTimeInterval(1200), isAllDay: false)])
        #expect(try await rig.run(.importWindow()) == "completed")
        #expect(rig.store.blocks(memberID: "m-1").count == 1)
        let calls = rig.provider.calls().count

        #expect(try await rig.run(.disconnect()) == "completed")
        let row = try #require(rig.store.connection(connection.id))
        #expect(row.record.status == .disconnected && row.record.credentials == nil)
        #expect(rig.store.blocks(memberID: "m-1").isEmpty)
        #expect(try await rig.store.cursor(connectionID: connection.id, calendarID: rig.provider.primaryCalendarID) == nil)
        #expect(rig.provider.events().count == 1, "the exported event stays")
        #expect(rig.events.types.last == "connection.disconnected")
        #expect(try await rig.run(.export(revision: 2)) == "skipped:disconnected")
        #expect(try await rig.run(.disconnect()) == "skipped:not_connected")
        #expect(rig.provider.calls().count == calls)
        #expect(!(try await rig.store.setStatus(connectionID: connection.id, status: .reconnectRequired, detail: "x")))
    }
}
