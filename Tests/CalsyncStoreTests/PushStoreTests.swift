import CalsyncStore
import CalsyncSync
import CalsyncTestSupport
import Foundation
import PostgresNIO
import Testing

/// Push in PostgreSQL: channels, `push_status`, the scheduler's channel upkeep and the safety-net interval.
@Suite("Push store")
struct PushStoreTests {
    static func seed(_ db: TestDatabase) async throws {
        try await db.execute("INSERT INTO organizations (id, plan, external_calendar_sync_enabled) VALUES ('ok', 'pro', true), ('free', 'free', true)")
        try await db.execute("INSERT INTO members (id, organization_id) VALUES ('a', 'ok'), ('b', 'ok'), ('c', 'ok'), ('d', 'free'), ('e', 'ok')")
        try await db.execute(
            """
            INSERT INTO calendar_connections (member_id, provider, status, sync_direction) VALUES
            ('a', 'google', 'active', 'both'),
            ('b', 'microsoft', 'active', 'inbound'),
            ('c', 'google', 'active', 'outbound'),
            ('d', 'google', 'active', 'both'),
            ('e', 'caldav', 'active', 'both')
            """)
        try await db.execute("UPDATE connection_schedules SET next_import_at = now() - interval '1 minute'")
    }

    func connectionID(_ db: TestDatabase, _ member: String) async throws -> String {
        try #require(
            try await db.client.query("SELECT id::text FROM calendar_connections WHERE member_id = \(member)", logger: db.logger)
                .decode(String.self).collectAll().first)
    }

    @Test("channels are found only while unexpired; push-healthy connections wait the safety-net interval, others the normal one")
    func channelsAndIntervals() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            let store = PostgresPushStore(client: db.client, logger: db.logger)
            let a = try await connectionID(db, "a")
            let b = try await connectionID(db, "b")
            let channel = PushChannelRecord(
                channelID: "chan-1", connectionID: a, memberID: "a", provider: .google, resourceID: "res", calendarID: "cal",
                secretHash: PushSecret.hash("t"), expiresAt: Date().addingTimeInterval(3600))
            try await store.savePushChannel(channel)
            #expect(try await store.pushChannel(id: "chan-1") == channel.withRoundedExpiry(try await store.pushChannel(id: "chan-1")))
            var stale = channel
            stale.channelID = "chan-old"
            stale.expiresAt = Date().addingTimeInterval(-1)
            try await store.savePushChannel(stale)
            #expect(try await store.pushChannel(id: "chan-old") == nil)
            #expect(try await store.pushChannels(connectionID: a).count == 2)
            // The batch read finds the same channels as one read each: known and unexpired only.
            let found = try await store.pushChannels(ids: ["chan-1", "chan-old", "unknown", "chan-1"])
            #expect(found.keys.sorted() == ["chan-1"])
            #expect(found["chan-1"] == (try await store.pushChannel(id: "chan-1")))
            #expect(try await store.pushChannels(ids: []).isEmpty)
            try await store.deletePushChannel(id: "chan-1")
            #expect(try await store.pushChannels(ids: ["chan-1"]).isEmpty)
            try await store.savePushChannel(channel)
            try await store.setPushState(connectionID: a, status: .active, detail: nil, expiresAt: Date().addingTimeInterval(3600))

            let scheduler = PostgresSchedulerStore(client: db.client, logger: db.logger)
            _ = try await scheduler.claimDueImports(
                defaultIntervalSeconds: 300, jitter: 0, fullResyncAfterSeconds: 86_400, pushPollIntervalSeconds: 21_600)
            // Due again, the first imports done (their "queued" marks cleared).
            _ = try await db.execute("UPDATE connection_schedules SET next_import_at = now() - interval '1 second', import_queued_until = NULL")
            let before = try #require(
                try await db.client.query("SELECT clock_timestamp()", logger: db.logger).decode(Date.self).collectAll().first)
            let batch = try await scheduler.claimDueImports(
                defaultIntervalSeconds: 300, jitter: 0, fullResyncAfterSeconds: 86_400, pushPollIntervalSeconds: 21_600)
            #expect(Set(batch.due.map(\.memberID)).isSuperset(of: ["a", "b"]))
            // Without jitter the next import is one interval after the claim (measured from a clock reading taken
            // before it; `slack` covers a slow machine).
            let intervals = Dictionary(uniqueKeysWithValues: try await db.client.query(
                """
                SELECT member_id, extract(epoch FROM next_import_at - \(before))::float8
                FROM calendar_connections JOIN connection_schedules ON connection_id = id WHERE member_id IN ('a', 'b')
                """, logger: db.logger
            ).decode((String, Double).self).collectAll().map { ($0.0, $0.1) })
            let slack = 30.0
            #expect(intervals["a"].map { $0 >= 21_600 && $0 <= 21_600 + slack } == true)
            #expect(intervals["b"].map { $0 >= 300 && $0 <= 300 + slack } == true)

            // Leaving active makes the next import due at once.
            try await db.execute("UPDATE connection_schedules SET next_import_at = now() + interval '6 hours' WHERE connection_id = \(a)::uuid")
            try await store.setPushState(connectionID: a, status: .unavailable, detail: "refused", expiresAt: nil)
            let due = try await db.client.query(
                "SELECT next_import_at <= now() FROM calendar_connections JOIN connection_schedules ON connection_id = id WHERE member_id = 'a'",
                logger: db.logger
            ).decode(Bool.self).collectAll()
            #expect(due == [true])
            _ = b
        }
    }

    @Test("channel upkeep: never-tried, importing Google and Microsoft connections of eligible organizations, once; lapsed push falls back")
    func upkeep() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            let scheduler = PostgresSchedulerStore(client: db.client, logger: db.logger)
            let due = try await scheduler.claimDuePushWork(renewBeforeSeconds: 3600, retryAfterSeconds: 300, limit: 100)
            #expect(Set(due.map(\.memberID)) == ["a", "b"])
            #expect(try await scheduler.claimDuePushWork(renewBeforeSeconds: 3600, retryAfterSeconds: 300, limit: 100).isEmpty)

            let store = PostgresPushStore(client: db.client, logger: db.logger)
            let a = try await connectionID(db, "a")
            try await store.setPushState(connectionID: a, status: .active, detail: nil, expiresAt: Date().addingTimeInterval(-1))
            #expect(try await scheduler.expireLapsedPush() == 1)
            let row = try await db.client.query(
                "SELECT push_status, push_detail IS NOT NULL, next_import_at <= now() FROM calendar_connections JOIN connection_schedules ON connection_id = id WHERE member_id = 'a'",
                logger: db.logger
            ).decode((String, Bool, Bool).self).collectAll()
            #expect(row.first?.0 == "unavailable" && row.first?.1 == true && row.first?.2 == true)
        }
    }
}

extension PushChannelRecord {
    /// This record with the expiry PostgreSQL returned (microseconds).
    func withRoundedExpiry(_ stored: PushChannelRecord?) -> PushChannelRecord {
        var copy = self
        if let stored { copy.expiresAt = stored.expiresAt }
        return copy
    }
}
