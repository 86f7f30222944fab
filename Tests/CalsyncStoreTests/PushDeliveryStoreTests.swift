import CalsyncStore
import CalsyncSync
import CalsyncTestSupport
import Foundation
import PostgresNIO
import Testing

/// Push delivery tracking and the disconnect guard in PostgreSQL (review findings 8 and 9).
@Suite("Push store: delivery and the disconnect guard")
struct PushDeliveryStoreTests {
    func channel(_ id: String, connectionID: String, member: String, provider: ProviderKind = .google) -> PushChannelRecord {
        PushChannelRecord(
            channelID: id, connectionID: connectionID, memberID: member, provider: provider, resourceID: nil,
            calendarID: provider == .google ? "cal" : nil, secretHash: PushSecret.hash("t"), expiresAt: Date().addingTimeInterval(3600))
    }

    @Test("a channel is recorded only while its connection is active: a disconnect meanwhile leaves no trusted channel")
    func guardedSave() async throws {
        try await TestDatabase.with { db in
            try await PushStoreTests.seed(db)
            let store = PostgresPushStore(client: db.client, logger: db.logger)
            let a = try await PushStoreTests().connectionID(db, "a")
            #expect(try await store.savePushChannel(channel("chan-live", connectionID: a, member: "a")))
            try await db.execute("UPDATE calendar_connections SET status = 'disconnected' WHERE id = \(a)::uuid")
            #expect(try await store.savePushChannel(channel("chan-late", connectionID: a, member: "a")) == false)
            #expect(try await store.pushChannel(id: "chan-late") == nil)
            #expect(try await store.pushChannels(connectionID: a).map(\.channelID) == ["chan-live"])
        }
    }

    @Test("the first trusted delivery is recorded once; a Google channel silent past the bound falls back to polling and is replaced")
    func silentChannels() async throws {
        try await TestDatabase.with { db in
            try await PushStoreTests.seed(db)
            let store = PostgresPushStore(client: db.client, logger: db.logger)
            let scheduler = PostgresSchedulerStore(client: db.client, logger: db.logger)
            let a = try await PushStoreTests().connectionID(db, "a")
            let b = try await PushStoreTests().connectionID(db, "b")
            try await store.savePushChannel(channel("g-silent", connectionID: a, member: "a"))
            try await store.savePushChannel(channel("sub-quiet", connectionID: b, member: "b", provider: .microsoft))
            try await store.setPushState(connectionID: a, status: .active, detail: nil, expiresAt: Date().addingTimeInterval(3600))
            try await store.setPushState(connectionID: b, status: .active, detail: nil, expiresAt: Date().addingTimeInterval(3600))
            try await db.execute("UPDATE connection_schedules SET next_import_at = now() + interval '6 hours'")
            // Within the bound nothing happens.
            #expect(try await scheduler.expireSilentPush(syncTimeoutSeconds: 60) == 0)
            try await db.execute("UPDATE push_channels SET created_at = now() - interval '2 minutes'")

            // A delivered Google channel is healthy; the delivery is recorded once.
            try await store.savePushChannel(channel("g-heard", connectionID: a, member: "a"))
            try await db.execute("UPDATE push_channels SET created_at = now() - interval '2 minutes' WHERE channel_id = 'g-heard'")
            try await store.markPushDelivered(channelID: "g-heard")
            let first = try #require(try await store.pushChannel(id: "g-heard")?.deliveredAt)
            try await store.markPushDelivered(channelID: "g-heard")
            #expect(try await store.pushChannel(id: "g-heard")?.deliveredAt == first)

            // Past the bound: the silent Google channel lapses and its connection falls back; Graph is exempt.
            #expect(try await scheduler.expireSilentPush(syncTimeoutSeconds: 60) == 1)
            #expect(try await store.pushChannel(id: "g-silent") == nil)
            #expect(try await store.pushChannel(id: "g-heard") != nil)
            #expect(try await store.pushChannel(id: "sub-quiet") != nil)
            let rows = try await db.client.query(
                """
                SELECT member_id, push_status, coalesce(push_detail, ''), next_import_at <= now()
                FROM calendar_connections JOIN connection_schedules ON connection_id = id
                WHERE member_id IN ('a', 'b') ORDER BY member_id
                """, logger: db.logger
            ).decode((String, String, String, Bool).self).collectAll()
            #expect(rows.count == 2)
            #expect(rows[0].1 == "unavailable" && rows[0].2.contains("sync") && rows[0].3)
            #expect(rows[1].1 == "active" && !rows[1].3)
            // Once is enough: the lapsed channel is not counted again.
            #expect(try await scheduler.expireSilentPush(syncTimeoutSeconds: 60) == 0)
        }
    }
}
