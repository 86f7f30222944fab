import CalsyncJobs
import CalsyncQueue
@testable import CalsyncStore
@testable import CalsyncSync
import CalsyncSyncTesting
import Foundation
import PostgresNIO
import Synchronization
import Testing

/// Contract §4: a member's `disconnect_calendar` wins over jobs already running for that connection:
/// afterwards nothing sets it to another status, and no busy block or cursor is written for it.
@Suite("Disconnect wins")
struct DisconnectWinsTests {
    static let disconnect = #"{"member_id":"m-1","actor_member_id":"m-1","provider":"google"}"#

    /// Status, detail, whether credentials are stored, and the last inbound stamp of the member's connection.
    static func row(_ db: TestDatabase) async throws -> (String, String?, Bool, Date?) {
        let rows = try await db.client.query(
            """
            SELECT status, status_detail, credentials_sealed IS NOT NULL, last_inbound_sync_at FROM calendar_connections
            WHERE member_id = 'm-1' AND provider = 'google'
            """, logger: db.logger
        ).decode((String, String?, Bool, Date?).self).collectAll()
        return try #require(rows.first)
    }

    static func blockCount(_ db: TestDatabase) async throws -> Int {
        try await db.client.query("SELECT count(*)::int FROM external_busy_blocks", logger: db.logger)
            .decode(Int.self).collectAll().first ?? -1
    }

    @Test("an import that read the connection before the disconnect committed writes no busy block, cursor or stamp")
    func importAfterDisconnectWritesNothing() async throws {
        try await TestDatabase.with { db in
            let harness = HandlerHarness(db)
            let connection = try await harness.connect()
            let reached = Signal()
            let resume = Signal()
            harness.provider.setBusy([ExplicitWindowImportTests.event("busy", day: 1, now: Date())])
            harness.provider.script(.readBusy, .pause(reached: reached, resume: resume))
            async let outcome = harness.importWindow()
            await reached.wait()
            try await harness.store.disconnect(connectionID: connection.id, detail: "Disconnected by the member.")
            resume.fire()
            _ = try await outcome
            #expect(try await Self.blockCount(db) == 0)
            #expect(try await harness.cursor(connection) == nil)
            let (status, _, hasCredentials, stamped) = try await Self.row(db)
            #expect(status == "disconnected" && !hasCredentials)
            #expect(stamped == nil, "no inbound sync stamped on a disconnected connection")
        }
    }

    @Test("store: busy writes and cursors of a disconnected connection are refused; a reconnect imports again")
    func storeRefusesBusyWritesAfterDisconnect() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await SyncStoreTests.seed(db)
            let connection = try await SyncStoreTests.connect(store)
            try await store.disconnect(connectionID: connection.id, detail: "bye")
            let window = DateInterval(start: Date(timeIntervalSince1970: 1_800_000_000), duration: 48 * 3600)
            let replaced = try await store.replaceBusyBlocks(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", window: window,
                events: [SyncStoreTests.block("a", 1)], scope: .rolling(cursor: SyncCursor("full")))
            let applied = try await store.applyBusyChanges(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", upserts: [SyncStoreTests.block("b", 2)],
                removedEventIDs: [], cursor: SyncCursor("delta"))
            #expect(replaced.rowsWritten == 0 && applied.rowsWritten == 0)
            #expect(try await Self.blockCount(db) == 0)
            #expect(try await store.cursor(connectionID: connection.id, calendarID: "cal") == nil)

            _ = try await SyncStoreTests.connect(store)
            let again = try await store.applyBusyChanges(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", upserts: [SyncStoreTests.block("b", 2)],
                removedEventIDs: [], cursor: SyncCursor("delta"))
            #expect(again == ImportCounts(inserted: 1))
            #expect(try await store.cursor(connectionID: connection.id, calendarID: "cal") == SyncCursor("delta"))
        }
    }

    @Test("store: setStatus(reconnect_required) and a credential store after a disconnect change nothing")
    func storeRefusesStatusAndCredentialsAfterDisconnect() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await SyncStoreTests.seed(db)
            let connection = try await SyncStoreTests.connect(store)
            try await store.disconnect(connectionID: connection.id, detail: "bye")
            try await store.setStatus(connectionID: connection.id, status: .reconnectRequired, detail: "revoked")
            let stored = try await store.withCredentialLock(connectionID: connection.id) { _ in
                .store(SealedCredentials(keyID: "k", sealed: [1, 2, 3]), expiresAt: Date().addingTimeInterval(3600))
            }
            #expect(stored == nil)
            let (status, detail, hasCredentials, _) = try await Self.row(db)
            #expect(status == "disconnected" && detail == "bye")
            #expect(!hasCredentials)

            // A reconnect still reactivates it.
            let again = try await SyncStoreTests.connect(store)
            #expect(again.id == connection.id && again.status == .active)
            try await store.setStatus(connectionID: connection.id, status: .reconnectRequired, detail: "revoked")
            #expect(try await Self.row(db).0 == "reconnect_required")
        }
    }

    @Test("a refresh that starts after the disconnect committed calls no provider, stores nothing and flips no status")
    func refreshAfterDisconnect() async throws {
        try await TestDatabase.with { db in
            let harness = HandlerHarness(db)
            let stale = try await harness.connect(expiresIn: 60)
            try await harness.store.disconnect(connectionID: stale.id, detail: "bye")
            await #expect(throws: ReconnectRequired.self) {
                _ = try await harness.environment.refresh(
                    stale, client: harness.provider, replacing: "at-1", logger: db.logger)
            }
            #expect(harness.provider.state.withLock { $0.refreshes } == 0)
            let (status, detail, hasCredentials, _) = try await Self.row(db)
            #expect(status == "disconnected" && detail == "bye" && !hasCredentials)
            #expect(harness.events.published.isEmpty, "no connection.reconnect_required for a disconnected calendar")
        }
    }

    @Test("a disconnect waits for the member's running import (deferred, no attempt burnt), then wins")
    func disconnectWaitsForTheImportLock() async throws {
        try await TestDatabase.with { db in
            let harness = HandlerHarness(db)
            let connection = try await harness.connect()
            let reached = Signal()
            let resume = Signal()
            harness.provider.setBusy([ExplicitWindowImportTests.event("busy", day: 1, now: Date())])
            harness.provider.script(.readBusy, .pause(reached: reached, resume: resume))
            async let outcome = harness.importWindow()
            await reached.wait()
            let handler = DisconnectCalendarHandler(environment: harness.environment)
            do {
                _ = try await harness.run(handler, Self.disconnect)
                Issue.record("the disconnect ran while the member's import was running")
            } catch let error as JobError {
                #expect(error.code == .locked)
                if case .deferred = error.disposition {} else { Issue.record("not deferred: \(error)") }
            }
            resume.fire()
            #expect(try await outcome == "completed")
            #expect(try await Self.blockCount(db) == 1)
            #expect(try await harness.run(handler, Self.disconnect) == "completed")
            #expect(try await Self.blockCount(db) == 0)
            #expect(try await harness.cursor(connection) == nil)
            #expect(try await Self.row(db).0 == "disconnected")
        }
    }

    @Test("a disconnect that starts while a busy write is running waits for it, then deletes what it wrote")
    func disconnectWaitsForARunningBusyWrite() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await SyncStoreTests.seed(db)
            let connection = try await SyncStoreTests.connect(store)
            let disconnect = Mutex<Task<Void, any Error>?>(nil)
            let waited = try await db.client.withTransaction(logger: db.logger) { writer -> Bool in
                // What replaceBusyBlocks and applyBusyChanges do first, then a block written.
                #expect(try await PostgresSyncStore.acceptsBusyWrites(connectionID: connection.id, on: writer, logger: db.logger))
                try await PostgresSyncStore.upsert(
                    [SyncStoreTests.block("a", 1)], connectionID: connection.id, memberID: "m-1", calendarID: "cal",
                    on: writer, logger: db.logger)
                disconnect.withLock { $0 = Task { try await store.disconnect(connectionID: connection.id, detail: "bye") } }
                let deadline = ContinuousClock.now + .seconds(5)
                while ContinuousClock.now < deadline {
                    let rows = try await db.client.query(
                        """
                        SELECT count(*)::int FROM pg_stat_activity
                        WHERE wait_event_type = 'Lock' AND query LIKE '%SET status = ''disconnected''%'
                        """, logger: db.logger
                    ).decode(Int.self).collectAll()
                    if rows.first ?? 0 > 0 { return true }
                    try await Task.sleep(for: .milliseconds(20))
                }
                return false
            }
            #expect(waited, "the disconnect waited for the running busy write")
            try await disconnect.withLock { $0 }?.value
            #expect(try await Self.row(db).0 == "disconnected")
            #expect(try await Self.blockCount(db) == 0, "the block written before the disconnect is deleted by it")
        }
    }
}
