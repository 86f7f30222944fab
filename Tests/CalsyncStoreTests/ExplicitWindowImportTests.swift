import CalsyncSyncTesting
import CalsyncQueue
import CalsyncStore
import CalsyncSync
import Foundation
import PostgresNIO
import Synchronization
import Testing

/// Contract §4: an `import_window` over an explicit window changes only busy blocks that overlap that
/// window, and leaves the rolling window's cursor as it was.
@Suite("Imports over an explicit window")
struct ExplicitWindowImportTests {
    static func event(_ id: String, day: Double, now: Date) -> BusyEvent {
        let start = now.addingTimeInterval(day * 86_400)
        return BusyEvent(
            externalEventID: id, calendarID: HandlerHarness.calendar, start: start, end: start.addingTimeInterval(3600),
            isAllDay: false)
    }

    @Test("an import over days 15–25 keeps the day-2 block and the rolling cursor, and removes a block in it that is gone")
    func explicitWindowChangesOnlyItsBlocks() async throws {
        try await TestDatabase.with { db in
            let harness = HandlerHarness(db)
            let connection = try await harness.connect()
            let now = Date()
            harness.provider.setBusy([
                Self.event("day-2", day: 2, now: now), Self.event("day-16", day: 16, now: now),
                Self.event("day-20", day: 20, now: now),
            ])
            #expect(try await harness.importWindow() == "completed")
            #expect(try await harness.blocks().keys.sorted() == ["day-16", "day-2", "day-20"])
            #expect(try await harness.cursor(connection) == "full-1")

            // day-20 is deleted at the provider, day-16 moved by an hour; day-2 stays where it was.
            harness.provider.setBusy([Self.event("day-2", day: 2, now: now), Self.event("day-16", day: 16 + 1 / 24, now: now)])
            let window = #"{"member_id":"m-1","window_start":"\#(HandlerHarness.rfc3339(now.addingTimeInterval(15 * 86_400)))","#
                + #""window_end":"\#(HandlerHarness.rfc3339(now.addingTimeInterval(25 * 86_400)))"}"#
            #expect(try await harness.importWindow(window) == "completed")
            let blocks = try await harness.blocks()
            #expect(blocks.keys.sorted() == ["day-16", "day-2"], "only blocks overlapping days 15–25 change")
            let moved = try #require(blocks["day-16"])
            #expect(abs(moved.timeIntervalSince(now.addingTimeInterval(16 * 86_400 + 3600))) < 1)
            #expect(try await harness.cursor(connection) == "full-1", "the rolling cursor stays as it was")

            // The next rolling import continues from the rolling cursor.
            #expect(try await harness.importWindow() == "completed")
            #expect(harness.provider.state.withLock { $0.changeReads } == 1)
            #expect(try await harness.blocks().keys.sorted() == ["day-16", "day-2"])
            #expect(try await harness.cursor(connection) == "delta-1")
        }
    }

    @Test("store: an explicit read deletes only unreturned blocks overlapping its window, ignores events outside it, keeps the cursor")
    func explicitScopeInTheStore() async throws {
        try await TestDatabase.with { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await SyncStoreTests.seed(db)
            let connection = try await SyncStoreTests.connect(store)
            let hour = { (h: Double) in Date(timeIntervalSince1970: 1_800_000_000 + h * 3600) }
            let rolling = DateInterval(start: hour(0), end: hour(30 * 24))
            _ = try await store.replaceBusyBlocks(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", window: rolling,
                events: [SyncStoreTests.block("day-2", 48), SyncStoreTests.block("day-16", 16 * 24), SyncStoreTests.block("day-20", 20 * 24)],
                scope: .rolling(cursor: SyncCursor("rolling")))
            let explicit = DateInterval(start: hour(15 * 24), end: hour(25 * 24))
            let counts = try await store.replaceBusyBlocks(
                connectionID: connection.id, memberID: "m-1", calendarID: "cal", window: explicit,
                events: [SyncStoreTests.block("day-16", 16 * 24), SyncStoreTests.block("day-27", 27 * 24)], scope: .explicit)
            #expect(counts == ImportCounts(deleted: 1))
            let ids = try await db.client.query("SELECT external_event_id FROM external_busy_blocks ORDER BY 1")
                .decode(String.self).collectAll()
            #expect(ids == ["day-16", "day-2"])
            #expect(try await store.cursor(connectionID: connection.id, calendarID: "cal") == SyncCursor("rolling"))
        }
    }
}
