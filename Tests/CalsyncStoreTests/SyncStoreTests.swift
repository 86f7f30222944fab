@testable import CalsyncStore
import CalsyncSync
import CalsyncTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

/// The PostgreSQL `SyncStore` against a real server, each test in its own schema.
@Suite("PostgreSQL sync store")
struct SyncStoreTests {
    static let sealer = try! CredentialSealer(currentKey: Array(repeating: 7, count: 32))

    static func seed(_ db: TestDatabase, plan: String = "pro", enabled: Bool = true, members: [String] = ["m-1"]) async throws {
        try await db.execute("INSERT INTO organizations (id, plan, external_calendar_sync_enabled) VALUES ('org-1', \(plan), \(enabled))")
        for member in members {
            try await db.execute("INSERT INTO members (id, organization_id, time_zone) VALUES (\(member), 'org-1', 'Asia/Tokyo')")
        }
    }

    static func connect(_ store: PostgresSyncStore, member: String = "m-1", provider: ProviderKind = .google, email: String = "a@x.test") async throws -> ConnectionRecord {
        let credentials = ProviderCredentials(accessToken: "at", refreshToken: "rt", expiresAt: Date().addingTimeInterval(3600))
        return try await store.saveConnection(NewConnection(
            memberID: member, provider: provider, accountEmail: email, primaryCalendarID: "\(email)-primary",
            credentials: try sealer.seal(credentials, context: "c"), accessTokenExpiresAt: credentials.expiresAt))
    }

    static func block(_ id: String, _ startHour: Double, _ hours: Double = 1, calendar: String = "cal") -> BusyEvent {
        let start = Date(timeIntervalSince1970: 1_800_000_000 + startHour * 3600)
        return BusyEvent(externalEventID: id, calendarID: calendar, start: start, end: start.addingTimeInterval(hours * 3600), isAllDay: false)
    }

    @Test("member state: eligibility, connections, the first connection exports and a second is a busy source only")
    func memberStateAndDirections() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await Self.seed(db)
            #expect(try await store.memberState("nobody") == nil)
            let google = try await Self.connect(store)
            let microsoft = try await Self.connect(store, provider: .microsoft, email: "b@x.test")
            #expect(google.syncDirection == .both)
            #expect(microsoft.syncDirection == .inbound)
            #expect(google.exportCalendarID == "a@x.test-primary" && google.busyCalendarIDs == ["a@x.test-primary"])
            let state = try #require(try await store.memberState("m-1"))
            #expect(state.eligible && state.timeZone.identifier == "Asia/Tokyo")
            #expect(state.exportConnection?.id == google.id)
            #expect(state.connections.count == 2)
            #expect(state.connections.first?.credentials != nil)

            // A reconnect renews the row in place.
            try await store.setStatus(connectionID: google.id, status: .reconnectRequired, detail: "revoked")
            let again = try await Self.connect(store)
            #expect(again.id == google.id && again.status == .active && again.syncDirection == .both)
            try await db.execute("UPDATE organizations SET plan = 'free'")
            #expect(try await store.memberState("m-1")?.eligible == false)
        }
    }

    @Test("one read gives the member's state and one appointment's export state, as the two reads do")
    func memberAndExportStateInOneRead() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await Self.seed(db, members: ["m-1", "m-2"])
            #expect(try await store.memberState("nobody", exportOf: "a-1", revision: 5) == nil)
            // A member without connections: its state, no export.
            let bare = try #require(try await store.memberState("m-2", exportOf: "a-1", revision: 5))
            #expect(bare.0 == (try await store.memberState("m-2")) && bare.1.state == nil)

            let google = try await Self.connect(store)
            _ = try await Self.connect(store, provider: .microsoft, email: "b@x.test")
            let state = ExportState(appliedRevision: 4, connectionID: google.id, calendarID: "cal", externalEventID: "e1", contentHash: "h", eventPresent: true)
            #expect(try await store.recordExport(memberID: "m-1", appointmentID: "a-1", revision: 4, state: state, calledConnectionID: google.id))
            let both = try #require(try await store.memberState("m-1", exportOf: "a-1", revision: 5))
            #expect(both.0 == (try await store.memberState("m-1")))
            #expect(both.0.connections.count == 2)
            #expect(both.1.state == state)
            // Another appointment of the same member: no export state; another member's appointment id: none either.
            #expect(try await store.memberState("m-1", exportOf: "a-2", revision: 5)?.1.state == nil)
            #expect(try await store.memberState("m-2", exportOf: "a-1", revision: 5)?.1.state == nil)
        }
    }

    @Test("concurrent member and export reads share statements and each get the answer a read alone gets")
    func concurrentMemberExportReadsAreBatched() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await Self.seed(db, members: ["m-1", "m-2"])
            let google = try await Self.connect(store)
            _ = try await Self.connect(store, provider: .microsoft, email: "b@x.test")
            for index in 0..<10 {
                let state = ExportState(
                    appliedRevision: Int64(index + 1), connectionID: google.id, calendarID: "cal", externalEventID: "e\(index)",
                    contentHash: "h\(index)", eventPresent: true)
                #expect(try await store.recordExport(memberID: "m-1", appointmentID: "a-\(index)", revision: Int64(index + 1), state: state, calledConnectionID: google.id))
            }
            try await store.beginProviderWrite(
                ProviderWriteIntent(memberID: "m-1", appointmentID: "a-3", revision: 2, token: "t", settlesAt: Date().addingTimeInterval(600)))
            let queries = (0..<300).map { index in
                (member: ["m-1", "m-2", "nobody"][index % 3], appointment: "a-\(index % 12)", revision: Int64(index % 7 + 1))
            }
            var alone: [(MemberSyncState, ExportFence)?] = []
            for query in queries { alone.append(try await store.memberState(query.member, exportOf: query.appointment, revision: query.revision)) }
            let together = try await withThrowingTaskGroup(of: (Int, (MemberSyncState, ExportFence)?).self) { group in
                for (index, query) in queries.enumerated() {
                    group.addTask { (index, try await store.memberState(query.member, exportOf: query.appointment, revision: query.revision)) }
                }
                return try await group.reduce(into: [Int: (MemberSyncState, ExportFence)?]()) { $0[$1.0] = $1.1 }
            }
            #expect(together.count == queries.count)
            for index in queries.indices {
                let a = alone[index]
                let b = together[index] ?? nil
                #expect(a?.0 == b?.0 && a?.1 == b?.1, "query \(index): \(queries[index])")
            }
            // The answers differ from query to query: the comparison could catch answers handed to the wrong job.
            #expect(Set(alone.compactMap { $0?.1 }).count > 5)
            #expect(alone.contains { $0 == nil } && alone.contains { $0?.1.olderUnsettledUntil != nil })
        }
    }

    static func outcome(_ body: () async throws -> Bool) async -> Result<Bool, any Error> {
        do { return .success(try await body()) } catch { return .failure(error) }
    }

    @Test("concurrent export records each get their own answer: the newest revision wins and a bad row fails alone")
    func concurrentRecordsAreBatched() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await Self.seed(db)
            let connection = try await Self.connect(store)
            func state(_ revision: Int64) -> ExportState {
                ExportState(appliedRevision: revision, connectionID: connection.id, calendarID: "cal", externalEventID: "e\(revision)", contentHash: "h", eventPresent: true)
            }
            try await store.park(ParkedChange(memberID: "m-1", appointmentID: "a-7", revision: 1, kind: .export, payload: Array("{}".utf8), endsAt: Date().addingTimeInterval(3600), reason: "ineligible"))
            // 200 appointments at once, plus three revisions of one appointment, plus a row for an unknown member.
            let outcomes = try await withThrowingTaskGroup(of: (String, Int64, Result<Bool, any Error>).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let result = await Self.outcome { try await store.recordExport(memberID: "m-1", appointmentID: "a-\(index)", revision: 2, state: state(2), calledConnectionID: connection.id) }
                        return ("a-\(index)", 2, result)
                    }
                }
                for revision in [5, 3, 4] as [Int64] {
                    group.addTask {
                        let result = await Self.outcome { try await store.recordExport(memberID: "m-1", appointmentID: "same", revision: revision, state: state(revision), calledConnectionID: nil) }
                        return ("same", revision, result)
                    }
                }
                group.addTask {
                    let result = await Self.outcome { try await store.recordExport(memberID: "nobody", appointmentID: "x", revision: 1, state: state(1), calledConnectionID: nil) }
                    return ("nobody", 1, result)
                }
                var all: [(String, Int64, Result<Bool, any Error>)] = []
                for try await outcome in group { all.append(outcome) }
                return all
            }
            for (appointment, _, result) in outcomes where appointment.hasPrefix("a-") {
                #expect((try? result.get()) == true, "\(appointment)")
            }
            #expect(try await db.client.query("SELECT count(*) FROM appointment_exports WHERE appointment_id LIKE 'a-%'").collectAll().first?.decode(Int64.self) == 200)
            // The newest revision of the shared appointment wins, whatever order the records ran in.
            #expect(try await store.exportState(memberID: "m-1", appointmentID: "same", revision: 9).state?.appliedRevision == 5)
            #expect(outcomes.contains { $0.0 == "same" && $0.1 == 5 && (try? $0.2.get()) == true })
            // The unknown member's row failed alone.
            let failed = try #require(outcomes.first { $0.0 == "nobody" })
            #expect((try? failed.2.get()) == nil)
            // A record clears the parked change it supersedes.
            #expect(try await store.memberState("m-1")?.hasParkedChanges == false)
        }
    }

    @Test("every export that called the provider stamps its connection and clears the last error; one that did not, does not")
    func outboundStamp() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await Self.seed(db)
            let connection = try await Self.connect(store)
            func stamp() async throws -> (Date?, String?) {
                let rows = try await db.client.query(
                    "SELECT last_outbound_sync_at, last_outbound_error FROM calendar_connections WHERE id = \(connection.id)::uuid").collectAll()
                return try #require(rows.first).decode((Date?, String?).self)
            }
            func export(_ appointment: String, called: Bool = true) async throws {
                let state = ExportState(appliedRevision: 1, connectionID: connection.id, calendarID: "cal", externalEventID: "e", contentHash: "h", eventPresent: true)
                #expect(try await store.recordExport(memberID: "m-1", appointmentID: appointment, revision: 1, state: state, calledConnectionID: called ? connection.id : nil))
            }
            try await export("a-1")
            let first = try #require(try await stamp().0)
            try await db.execute("UPDATE calendar_connections SET last_outbound_sync_at = now() - interval '1 hour'")
            try await export("a-2")
            #expect(try #require(try await stamp().0) >= first)
            try await store.recordOutboundAttempt(connectionID: connection.id, error: "Google refused the event")
            try await export("a-3")
            #expect(try await stamp().1 == nil)
            try await db.execute("UPDATE calendar_connections SET last_outbound_sync_at = now() - interval '1 hour'")
            let before = try #require(try await stamp().0)
            try await export("a-4", called: false)
            #expect(try await stamp().0 == before)
        }
    }

    @Test("a batch of records: duplicates go in turn, a bad row fails alone, every row gets its own answer")
    func recordBatchRunner() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await Self.seed(db)
            let connection = try await Self.connect(store)
            func record(_ member: String, _ appointment: String, _ revision: Int64) -> ExportRecord {
                ExportRecord(
                    memberID: member, appointmentID: appointment, revision: revision, connectionID: connection.id, calendarID: "cal",
                    externalEventID: "e\(revision)", contentHash: nil, eventPresent: true, calledConnectionID: connection.id)
            }
            let runner = ExportRecordRunner(client: db.client, logger: db.logger)
            let results = await runner.run([
                record("m-1", "a", 2), record("m-1", "b", 1), record("m-1", "a", 5), record("nobody", "c", 1), record("m-1", "a", 3),
            ])
            #expect(results.count == 5)
            #expect((try? results[0].get()) == true)
            #expect((try? results[1].get()) == true)
            #expect((try? results[2].get()) == true)
            #expect((try? results[3].get()) == nil, "an unknown member's row fails alone")
            #expect((try? results[4].get()) == false, "revision 3 after 5 is stale")
            let a = try await store.exportState(memberID: "m-1", appointmentID: "a", revision: 9).state
            #expect(a?.appliedRevision == 5 && a?.externalEventID == "e5" && a?.contentHash == nil)
            #expect(try await store.exportState(memberID: "m-1", appointmentID: "b", revision: 9).state?.appliedRevision == 1)
        }
    }

    @Test("an export revision is recorded only when newer; parked changes up to it are cleared")
    func exportRevisions() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await Self.seed(db)
            let connection = try await Self.connect(store)
            let state = ExportState(appliedRevision: 3, connectionID: connection.id, calendarID: "cal", externalEventID: "e1", contentHash: "h", eventPresent: true)
            try await store.park(ParkedChange(memberID: "m-1", appointmentID: "a-1", revision: 2, kind: .export, payload: Array("{}".utf8), endsAt: Date().addingTimeInterval(3600), reason: "ineligible"))
            #expect(try await store.memberState("m-1")?.hasParkedChanges == true)
            #expect(try await store.recordExport(memberID: "m-1", appointmentID: "a-1", revision: 3, state: state, calledConnectionID: connection.id))
            #expect(try await store.memberState("m-1")?.hasParkedChanges == false)
            #expect(try await !store.recordExport(memberID: "m-1", appointmentID: "a-1", revision: 3, state: state, calledConnectionID: nil))
            #expect(try await !store.recordExport(memberID: "m-1", appointmentID: "a-1", revision: 2, state: state, calledConnectionID: nil))
            #expect(try await store.exportState(memberID: "m-1", appointmentID: "a-1", revision: 9).state == state)
            // Parking an older revision than the applied one does nothing.
            try await store.park(ParkedChange(memberID: "m-1", appointmentID: "a-1", revision: 1, kind: .export, payload: Array("{}".utf8), endsAt: nil, reason: "x"))
            #expect(try await store.memberState("m-1")?.hasParkedChanges == false)
            let stamped = try await db.client.query("SELECT last_outbound_sync_at IS NOT NULL FROM calendar_connections WHERE id = \(connection.id)::uuid").collectAll()
            #expect(try stamped.first?.decode(Bool.self) == true)
        }
    }

    @Test("parked changes: the newest revision wins, ended exports are dropped, each is taken once")
    func parking() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await Self.seed(db)
            let future = Date().addingTimeInterval(86_400)
            for revision in [4, 6, 5] as [Int64] {
                try await store.park(ParkedChange(memberID: "m-1", appointmentID: "a-1", revision: revision, kind: .export, payload: Array("{\"r\":\(revision)}".utf8), endsAt: future, reason: "ineligible"))
            }
            try await store.park(ParkedChange(memberID: "m-1", appointmentID: "a-ended", revision: 1, kind: .export, payload: Array("{}".utf8), endsAt: Date().addingTimeInterval(-60), reason: "ineligible"))
            try await store.park(ParkedChange(memberID: "m-1", appointmentID: "a-gone", revision: 2, kind: .delete, payload: Array("{}".utf8), endsAt: nil, reason: "ineligible"))
            let taken = try await store.takeParkedChanges(memberID: "m-1", now: Date())
            #expect(Set(taken.map(\.appointmentID)) == ["a-1", "a-gone"])
            #expect(taken.first { $0.appointmentID == "a-1" }?.revision == 6)
            #expect(String(decoding: taken.first { $0.appointmentID == "a-1" }?.payload ?? [], as: UTF8.self) == "{\"r\":6}")
            #expect(try await store.takeParkedChanges(memberID: "m-1", now: Date()).isEmpty)
        }
    }

    @Test("a full import diffs: inserts new, moves changed, deletes gone, keeps blocks beyond the window; an unchanged read writes nothing")
    func fullImportDiff() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await Self.seed(db)
            let connection = try await Self.connect(store)
            let window = DateInterval(start: Date(timeIntervalSince1970: 1_800_000_000), duration: 48 * 3600)
            var counts = try await store.replaceBusyBlocks(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", window: window,
                events: [Self.block("a", 1), Self.block("b", 2), Self.block("far", 100)], scope: .rolling(cursor: SyncCursor("t1")))
            #expect(counts == ImportCounts(inserted: 3))
            counts = try await store.replaceBusyBlocks(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", window: window,
                events: [Self.block("a", 1), Self.block("b", 3), Self.block("c", 4)], scope: .rolling(cursor: SyncCursor("t2")))
            #expect(counts == ImportCounts(inserted: 1, updated: 1, deleted: 0))
            counts = try await store.replaceBusyBlocks(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", window: window,
                events: [Self.block("a", 1), Self.block("b", 3), Self.block("c", 4)], scope: .rolling(cursor: SyncCursor("t2")))
            #expect(counts.rowsWritten == 0)
            counts = try await store.replaceBusyBlocks(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", window: window,
                events: [Self.block("c", 4)], scope: .rolling(cursor: nil))
            #expect(counts == ImportCounts(deleted: 2))
            let ids = try await db.client.query("SELECT external_event_id FROM external_busy_blocks ORDER BY 1").collectAll().map { try $0.decode(String.self) }
            #expect(ids == ["c", "far"])
            #expect(try await store.cursor(connectionID: connection.id, calendarID: "cal") == nil)
        }
    }

    @Test("incremental changes apply with their cursor; the view hides blocks of disconnected connections and ineligible orgs")
    func incrementalAndDisconnect() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await Self.seed(db, members: ["m-1", "m-2"])
            let connection = try await Self.connect(store)
            let counts = try await store.applyBusyChanges(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal",
                upserts: [Self.block("a", 1), Self.block("b", 2), Self.block("a", 5)], removedEventIDs: ["zzz"], cursor: SyncCursor("d1"))
            #expect(counts == ImportCounts(inserted: 2))
            #expect(try await store.cursor(connectionID: connection.id, calendarID: "cal") == SyncCursor("d1"))
            let removal = try await store.applyBusyChanges(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", upserts: [], removedEventIDs: ["b"], cursor: SyncCursor("d2"))
            #expect(removal == ImportCounts(deleted: 1))
            func visible(_ member: String) async throws -> Int {
                let row = try await db.client.query("SELECT count(*) FROM member_busy_intervals WHERE member_id = \(member)").collectAll().first
                return Int(try row?.decode(Int64.self) ?? -1)
            }
            #expect(try await visible("m-1") == 1)
            #expect(try await visible("m-2") == 0)
            try await db.execute("UPDATE organizations SET external_calendar_sync_enabled = false")
            #expect(try await visible("m-1") == 0)
            try await db.execute("UPDATE organizations SET external_calendar_sync_enabled = true")
            try await store.disconnect(connectionID: connection.id, detail: "bye")
            #expect(try await visible("m-1") == 0)
            let state = try #require(try await store.memberState("m-1"))
            #expect(state.connections.first?.status == .disconnected && state.connections.first?.credentials == nil)
            #expect(try await store.cursor(connectionID: connection.id, calendarID: "cal") == nil)
        }
    }

    @Test("the credential lock serializes refreshes across callers and stores what the holder returns")
    func credentialLock() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await Self.seed(db)
            let connection = try await Self.connect(store)
            let inside = ManagedCounter()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<4 {
                    group.addTask {
                        _ = try await store.withCredentialLock(connectionID: connection.id) { current in
                            #expect(current != nil)
                            #expect(inside.enter() == 1, "two holders at once")
                            try await Task.sleep(for: .milliseconds(50))
                            inside.leave()
                            return .store(SealedCredentials(keyID: "k\(index)", sealed: [UInt8(index)]), expiresAt: nil)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let stored = try #require(try await store.memberState("m-1")?.connections.first?.credentials)
            #expect(stored.keyID.hasPrefix("k") && stored.sealed.count == 1)
        }
    }
}

/// Counts concurrent holders.
final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func enter() -> Int { lock.withLock { value += 1; return value } }
    func leave() { lock.withLock { value -= 1 } }
}
