import CalsyncStore
import CalsyncSync
import CalsyncSyncTesting
import Foundation
import PostgresNIO
import Testing

/// The in-memory `SyncStore` of CalsyncSyncTesting keeps the PostgreSQL store's rules: the same
/// checks run against both, so the in-process handler tests rest on the driver's behaviour.
@Suite("SyncStore conformance: PostgreSQL and in memory")
struct SyncStoreConformanceTests {
    enum Kind: String, CaseIterable, Sendable {
        case postgres, memory
    }

    /// A store with organization `org-1` (pro, sync on) and member `m-1`, and a way to change the plan.
    struct Subject: Sendable {
        let store: any SyncStore
        let setPlan: @Sendable (String) async throws -> Void
    }

    static func with(_ kind: Kind, _ body: @Sendable (Subject) async throws -> Void) async throws {
        switch kind {
        case .postgres:
            try await TestDatabase.with { db in
                try await SyncStoreTests.seed(db)
                try await body(Subject(store: PostgresSyncStore(client: db.client, logger: db.logger)) { plan in
                    try await db.execute("UPDATE organizations SET plan = \(plan)")
                })
            }
        case .memory:
            let store = InMemorySyncStore()
            store.addOrganization("org-1")
            store.addMember("m-1", organizationID: "org-1", timeZone: "Asia/Tokyo")
            try await body(Subject(store: store) { plan in store.setOrganization("org-1", plan: plan) })
        }
    }

    static func connect(_ store: any SyncStore, provider: ProviderKind = .google, job: String? = nil) async throws -> ConnectionRecord {
        try await store.saveConnection(NewConnection(
            memberID: "m-1", provider: provider, accountEmail: "a@x.test", primaryCalendarID: "cal",
            credentials: SealedCredentials(keyID: "k", sealed: [1, 2, 3]), accessTokenExpiresAt: nil, jobID: job))
    }

    static func block(_ id: String, hour: Double) -> BusyEvent {
        let start = Date(timeIntervalSince1970: 1_800_000_000 + hour * 3600)
        return BusyEvent(externalEventID: id, calendarID: "cal", start: start, end: start.addingTimeInterval(3600), isAllDay: false)
    }

    static func state(_ revision: Int64, present: Bool = true, verifyAfter: Date? = nil) -> ExportState {
        ExportState(
            appliedRevision: revision, connectionID: nil, calendarID: "cal", externalEventID: "e", contentHash: "h",
            eventPresent: present, verifyAfter: verifyAfter)
    }

    static func close(_ a: Date?, _ b: Date?) -> Bool {
        guard let a, let b else { return a == nil && b == nil }
        return abs(a.timeIntervalSince(b)) < 0.001
    }

    @Test("member state: eligibility by plan, the first connection exports, a second provider is a busy source only",
          arguments: Kind.allCases)
    func memberState(_ kind: Kind) async throws {
        try await Self.with(kind) { subject in
            let store = subject.store
            #expect(try await store.memberState("nobody") == nil)
            #expect(try await store.memberState("m-1")?.eligible == true)
            #expect(try await store.memberState("m-1")?.timeZone.identifier == "Asia/Tokyo")
            let google = try await Self.connect(store, job: "job-1")
            let microsoft = try await Self.connect(store, provider: .microsoft)
            #expect(google.syncDirection == .both && microsoft.syncDirection == .inbound)
            #expect(google.exportCalendarID == "cal" && google.busyCalendarIDs == ["cal"] && google.status == .active)
            #expect(try await store.memberState("m-1")?.connections.map(\.provider) == [.google, .microsoft])
            #expect(try await store.connectionSaved(byJob: "job-1", memberID: "m-1", provider: .google))
            #expect(!(try await store.connectionSaved(byJob: "job-2", memberID: "m-1", provider: .google)))
            // A reconnect renews in place.
            #expect(try await Self.connect(store, job: "job-2").id == google.id)
            try await subject.setPlan("free")
            #expect(try await store.memberState("m-1")?.eligible == false)
        }
    }

    @Test("exports: recorded only when newer; parked changes keep the newest, are cleared by a record, dropped when ended, taken once",
          arguments: Kind.allCases)
    func exportsAndParking(_ kind: Kind) async throws {
        try await Self.with(kind) { subject in
            let store = subject.store
            func parked(_ appointment: String, _ revision: Int64, endsAt: Date? = Date().addingTimeInterval(86_400)) -> ParkedChange {
                ParkedChange(memberID: "m-1", appointmentID: appointment, revision: revision, kind: .export,
                             payload: Array("{}".utf8), endsAt: endsAt, reason: "ineligible")
            }
            try await store.park(parked("a-1", 3))
            try await store.park(parked("a-1", 2))
            try await store.park(parked("a-2", 1, endsAt: Date().addingTimeInterval(-60)))
            try await store.park(parked("a-3", 1))
            #expect(try await store.memberState("m-1")?.hasParkedChanges == true)
            #expect(try await store.recordExport(memberID: "m-1", appointmentID: "a-3", revision: 1, state: Self.state(1), calledConnectionID: nil))
            #expect(!(try await store.recordExport(memberID: "m-1", appointmentID: "a-3", revision: 1, state: Self.state(1), calledConnectionID: nil)))
            try await store.park(parked("a-3", 1))  // not newer than what was applied: not parked
            let taken = try await store.takeParkedChanges(memberID: "m-1", now: Date())
            #expect(taken.map { "\($0.appointmentID)@\($0.revision)" } == ["a-1@3"])
            #expect(try await store.takeParkedChanges(memberID: "m-1", now: Date()).isEmpty, "taken once")
            #expect(try await store.memberState("m-1")?.hasParkedChanges == false)
            #expect(try await store.exportState(memberID: "m-1", appointmentID: "a-3", revision: 2).state?.appliedRevision == 1)
        }
    }

    @Test("fenced writes: an older unsettled intent shows until settled or applied over; a verification clears verify_after",
          arguments: Kind.allCases)
    func fencedWrites(_ kind: Kind) async throws {
        try await Self.with(kind) { subject in
            let store = subject.store
            let settles = Date().addingTimeInterval(90)
            try await store.beginProviderWrite(ProviderWriteIntent(memberID: "m-1", appointmentID: "a-1", revision: 1, token: "t1", settlesAt: settles))
            #expect(try await store.exportState(memberID: "m-1", appointmentID: "a-1", revision: 1).olderUnsettledUntil == nil)
            #expect(Self.close(try await store.exportState(memberID: "m-1", appointmentID: "a-1", revision: 2).olderUnsettledUntil, settles))
            try await store.settleProviderWrite(memberID: "m-1", appointmentID: "a-1", token: "t1")
            #expect(try await store.exportState(memberID: "m-1", appointmentID: "a-1", revision: 2).olderUnsettledUntil == nil)

            try await store.beginProviderWrite(ProviderWriteIntent(memberID: "m-1", appointmentID: "a-1", revision: 1, token: "t2", settlesAt: settles))
            try await store.beginProviderWrite(ProviderWriteIntent(memberID: "m-1", appointmentID: "a-1", revision: 2, token: "t3", settlesAt: settles))
            #expect(try await store.recordExport(
                memberID: "m-1", appointmentID: "a-1", revision: 2, state: Self.state(2, verifyAfter: settles), calledConnectionID: nil,
                writeToken: "t3"))
            let fence = try await store.exportState(memberID: "m-1", appointmentID: "a-1", revision: 3)
            #expect(fence.olderUnsettledUntil == nil, "applied over: the older write is covered by verify_after")
            #expect(Self.close(fence.state?.verifyAfter, settles))
            #expect(!(try await store.recordVerification(
                memberID: "m-1", appointmentID: "a-1", revision: 1, verifyAfter: settles, state: Self.state(1), writeToken: "t4")))
            #expect(try await store.recordVerification(
                memberID: "m-1", appointmentID: "a-1", revision: 2, verifyAfter: settles, state: Self.state(2, present: false), writeToken: "t4"))
            let verified = try await store.exportState(memberID: "m-1", appointmentID: "a-1", revision: 3).state
            #expect(verified?.verifyAfter == nil && verified?.eventPresent == false)
        }
    }

    @Test("busy blocks: a rolling read replaces and stores its cursor, an explicit one changes only its window",
          arguments: Kind.allCases)
    func busyBlocks(_ kind: Kind) async throws {
        try await Self.with(kind) { subject in
            let store = subject.store
            let connection = try await Self.connect(store)
            let window = DateInterval(start: Self.block("x", hour: 0).start, end: Self.block("x", hour: 100).start)
            let first = try await store.replaceBusyBlocks(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", window: window,
                events: [Self.block("a", hour: 1), Self.block("b", hour: 50), Self.block("c", hour: 90)], scope: .rolling(cursor: SyncCursor("c1")))
            #expect(first == ImportCounts(inserted: 3))
            let explicit = DateInterval(start: Self.block("x", hour: 40).start, end: Self.block("x", hour: 60).start)
            let second = try await store.replaceBusyBlocks(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", window: explicit,
                events: [Self.block("d", hour: 45), Self.block("e", hour: 95)], scope: .explicit)
            #expect(second == ImportCounts(inserted: 1, deleted: 1), "d in, b gone; a, c and e outside the window")
            #expect(try await store.cursor(connectionID: connection.id, calendarID: "cal")?.value == "c1")
            let changes = try await store.applyBusyChanges(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", upserts: [Self.block("a", hour: 2)],
                removedEventIDs: ["c", "zz"], cursor: SyncCursor("c2"))
            #expect(changes == ImportCounts(updated: 1, deleted: 1))
            #expect(try await store.cursor(connectionID: connection.id, calendarID: "cal")?.value == "c2")
        }
    }

    @Test("a disconnected connection refuses later status, credential, busy-block and cursor writes", arguments: Kind.allCases)
    func disconnectedRefuses(_ kind: Kind) async throws {
        try await Self.with(kind) { subject in
            let store = subject.store
            let connection = try await Self.connect(store)
            let window = DateInterval(start: Self.block("x", hour: 0).start, end: Self.block("x", hour: 100).start)
            _ = try await store.replaceBusyBlocks(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", window: window, events: [Self.block("a", hour: 1)],
                scope: .rolling(cursor: SyncCursor("c1")))
            try await store.disconnect(connectionID: connection.id, detail: "bye")
            let row = try #require(try await store.memberState("m-1")?.connection(.google))
            #expect(row.status == .disconnected && row.credentials == nil && row.statusDetail == "bye")
            #expect(try await store.cursor(connectionID: connection.id, calendarID: "cal") == nil)
            #expect(!(try await store.setStatus(connectionID: connection.id, status: .reconnectRequired, detail: "x")))
            #expect(try await store.replaceBusyBlocks(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", window: window, events: [Self.block("a", hour: 1)],
                scope: .rolling(cursor: SyncCursor("c2"))) == ImportCounts())
            #expect(try await store.applyBusyChanges(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", upserts: [Self.block("b", hour: 1)],
                removedEventIDs: [], cursor: SyncCursor("c3")) == ImportCounts())
            #expect(try await store.cursor(connectionID: connection.id, calendarID: "cal") == nil)
            let ran = try await store.withCredentialLock(connectionID: connection.id) { _ in
                Issue.record("the body ran for a disconnected connection")
                return .keep
            }
            #expect(ran == nil)
            #expect(try await store.memberState("m-1")?.connection(.google)?.status == .disconnected)
        }
    }
}
