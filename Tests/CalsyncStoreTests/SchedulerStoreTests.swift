import CalsyncStore
import CalsyncSync
import CalsyncTestSupport
import Foundation
import PostgresNIO
import Testing

/// The scheduler's queries: which connections are due, which tokens need a refresh, which parked changes replay.
@Suite("Scheduler store")
struct SchedulerStoreTests {
    /// Organizations: ok (eligible), free plan, sync disabled. Members a, d, e, f, g, h in ok; b in free; c in disabled.
    static func seed(_ db: TestDatabase) async throws {
        try await db.execute(
            """
            INSERT INTO organizations (id, plan, external_calendar_sync_enabled)
            VALUES ('ok', 'pro', true), ('free', 'free', true), ('off', 'advanced', false)
            """)
        try await db.execute(
            """
            INSERT INTO members (id, organization_id) VALUES ('a', 'ok'), ('b', 'free'), ('c', 'off'), ('d', 'ok'),
                ('e', 'ok'), ('f', 'ok'), ('g', 'ok'), ('h', 'ok')
            """)
        try await db.execute(
            """
            INSERT INTO calendar_connections (member_id, provider, status, sync_direction,
                import_interval_seconds, rate_limited_until, access_token_expires_at) VALUES
            ('a', 'google', 'active', 'both', NULL, NULL, now() + interval '1 minute'),
            ('a', 'microsoft', 'active', 'inbound', 60, NULL, now() + interval '2 days'),
            ('d', 'google', 'active', 'outbound', NULL, NULL, now() + interval '5 minutes'),
            ('e', 'google', 'reconnect_required', 'both', NULL, NULL, now() - interval '1 minute'),
            ('f', 'google', 'active', 'both', NULL, NULL, NULL),
            ('g', 'google', 'active', 'both', NULL, now() + interval '1 hour', NULL),
            ('b', 'google', 'active', 'both', NULL, NULL, now() - interval '1 minute'),
            ('c', 'microsoft', 'active', 'both', NULL, NULL, now() - interval '1 minute'),
            ('h', 'caldav', 'active', 'both', NULL, NULL, now() - interval '1 minute')
            """)
        // When each import is due (h: new, its first time still to be given) and the last full resync.
        try await db.execute(
            """
            UPDATE connection_schedules s SET next_import_at = v.next, last_full_resync_at = v.resync
            FROM calendar_connections c, (VALUES
                ('a', 'google', now() - interval '1 minute', NULL::timestamptz),
                ('a', 'microsoft', now() - interval '1 minute', now() - interval '1 hour'),
                ('d', 'google', now() - interval '1 minute', NULL),
                ('e', 'google', now() - interval '1 minute', NULL),
                ('f', 'google', now() + interval '1 minute', NULL),
                ('g', 'google', now() - interval '1 minute', NULL),
                ('b', 'google', now() - interval '1 minute', NULL),
                ('c', 'microsoft', now() - interval '1 minute', NULL),
                ('h', 'caldav', '-infinity', NULL)) AS v (member, provider, next, resync)
            WHERE c.id = s.connection_id AND c.member_id = v.member AND c.provider = v.provider
            """)
    }

    /// One claim over the whole table with the defaults (interval 300 s, 10 % jitter, a full resync a day).
    static func claimAll(_ store: PostgresSchedulerStore) async throws -> PostgresSchedulerStore.ImportBatch {
        try await store.claimDueImports(defaultIntervalSeconds: 300, jitter: 0.1, fullResyncAfterSeconds: 86_400)
    }

    @Test("due imports: only active importing connections of eligible organizations, rescheduled with jitter in the same statement")
    func dueImports() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            let store = PostgresSchedulerStore(client: db.client, logger: db.logger)
            let before = try #require(
                try await db.client.query("SELECT clock_timestamp()", logger: db.logger).decode(Date.self).collectAll().first)
            let first = try await Self.claimAll(store)
            #expect(
                Set(first.due) == [
                    .init(memberID: "a", provider: "google", fullResync: true),
                    .init(memberID: "a", provider: "microsoft", fullResync: false),
                ])
            #expect(first.scheduled == 1)  // h: a new connection gets its first time, no job now
            #expect(first.reconciled == 5)  // b, c, d, e will not import; g waits for its rate limit

            // Nothing is due twice.
            let second = try await Self.claimAll(store)
            #expect(second.due.isEmpty && second.scheduled == 0 && second.reconciled == 0)

            let rows = try await db.client.query(
                """
                SELECT member_id || '/' || provider, extract(epoch FROM next_import_at - \(before))::float8,
                       extract(epoch FROM \(before) - last_full_resync_at)::float8,
                       extract(epoch FROM import_queued_until - \(before))::float8
                FROM calendar_connections JOIN connection_schedules ON connection_id = id WHERE member_id IN ('a', 'h')
                """, logger: db.logger
            ).decode((String, Double, Double?, Double?).self).collectAll()
            // Times are measured from a clock reading taken before the claim; `slack` covers a slow machine.
            let slack = 30.0
            let next = Dictionary(uniqueKeysWithValues: rows.map { ($0.0, ($0.1, $0.2, $0.3)) })
            let google = try #require(next["a/google"])
            #expect(google.0 >= 300 && google.0 <= 330 + slack)  // interval + up to 10 % jitter
            #expect((google.1 ?? 99) <= 0)  // full resync stamped at the claim
            let googleQueued = try #require(google.2)  // queued for one interval
            #expect(googleQueued >= 300 && googleQueued <= 300 + slack)
            let microsoft = try #require(next["a/microsoft"])
            #expect(microsoft.0 >= 60 && microsoft.0 <= 66 + slack)  // the connection's own interval
            let microsoftQueued = try #require(microsoft.2)
            #expect(microsoftQueued >= 60 && microsoftQueued <= 60 + slack)
            let caldav = try #require(next["h/caldav"])
            #expect(caldav.2 == nil)  // nothing enqueued, nothing queued
            #expect(caldav.0 >= 0 && caldav.0 <= 300 + slack)
            let spreadResync = try #require(caldav.1)
            #expect(spreadResync >= -slack && spreadResync <= 86_400)
        }
    }

    @Test("an import still queued is not enqueued again when its connection is due; once an import of the rolling window starts, the next one is")
    func queuedMark() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            let store = PostgresSchedulerStore(client: db.client, logger: db.logger)
            func makeDue() async throws {
                try await db.execute(
                    """
                    UPDATE connection_schedules SET next_import_at = now() - interval '1 second'
                    WHERE connection_id IN (SELECT id FROM calendar_connections WHERE member_id = 'a')
                    """)
            }
            let first = try await Self.claimAll(store)
            #expect(first.due.count == 2 && first.deduplicated == 0)
            // "Import now" (the web tier) while both imports are still queued: nothing is enqueued twice, and the
            // full resync a/google was given is not stamped again.
            try await makeDue()
            let held = try await Self.claimAll(store)
            #expect(held.due.isEmpty && held.deduplicated == 2)

            // The import of a/microsoft starts: its mark goes, a/google's stays.
            let ids = try await db.client.query(
                "SELECT id::text FROM calendar_connections WHERE member_id = 'a' AND provider = 'microsoft'", logger: db.logger
            ).decode(String.self).collectAll()
            try await PostgresSyncStore(client: db.client, logger: db.logger).importStarted(connectionIDs: ids)
            try await makeDue()
            let next = try await Self.claimAll(store)
            #expect(next.due == [.init(memberID: "a", provider: "microsoft", fullResync: false)] && next.deduplicated == 1)
        }
    }

    @Test("next_import_at stays true: a due connection that will not import is cleared, a rate-limited one moved past its limit, and triggers reopen them when they may")
    func reconcile() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            let store = PostgresSchedulerStore(client: db.client, logger: db.logger)
            func schedules() async throws -> [(String, Bool, Double)] {
                try await db.client.query(
                    """
                    SELECT member_id || '/' || provider, next_import_at IS NULL,
                           coalesce(extract(epoch FROM next_import_at - rate_limited_until)::float8, -1)
                    FROM calendar_connections JOIN connection_schedules ON connection_id = id ORDER BY 1
                    """, logger: db.logger
                ).decode((String, Bool, Double).self).collectAll()
            }
            let first = try await Self.claimAll(store)
            #expect(Set(first.due.map(\.memberID)) == ["a"] && first.scheduled == 1 && first.reconciled == 5)
            let rows = try await schedules()
            #expect(rows.filter(\.1).map(\.0) == ["b/google", "c/microsoft", "d/google", "e/google"])
            let limited = try #require(rows.first { $0.0 == "g/google" })
            #expect(limited.2 >= 0 && limited.2 <= 30)  // after the limit, within the jitter
            // Nothing left to change; the rate-limited connection is not due.
            let second = try await Self.claimAll(store)
            #expect(second.touched == 0)

            // The organization of b upgrades, e reconnects, c's member moves to an eligible organization: each may
            // import again and gets a first time at the next claim. d still only exports.
            try await db.execute("UPDATE organizations SET plan = 'pro' WHERE id = 'free'")
            try await db.execute("UPDATE calendar_connections SET status = 'active' WHERE member_id = 'e'")
            try await db.execute("UPDATE members SET organization_id = 'ok' WHERE id = 'c'")
            try await db.execute("UPDATE calendar_connections SET status = 'active' WHERE member_id = 'd'")  // no change: stays cleared
            #expect(try await schedules().filter(\.1).map(\.0) == ["d/google"])
            let opened = try await Self.claimAll(store)
            #expect(opened.due.isEmpty && opened.scheduled == 3 && opened.reconciled == 0)

            // A connection added later gets a schedule row, waiting for its first time; removed, the row goes with it.
            try await db.execute("INSERT INTO calendar_connections (member_id, provider) VALUES ('f', 'microsoft')")
            #expect(try await Self.claimAll(store).scheduled == 1)
            try await db.execute("DELETE FROM calendar_connections WHERE member_id = 'f'")
            #expect(try await db.client.query(
                "SELECT count(*) FROM connection_schedules", logger: db.logger).decode(Int64.self).collectAll() == [8])
        }
    }

    @Test("a reconnect still in flight when a claim runs is skipped by it, not cleared, and imports once it committed")
    func aReconnectRacingAClaimIsNotLost() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            let store = PostgresSchedulerStore(client: db.client, logger: db.logger)
            // e is reconnect_required and due. Its reconnect has updated the row but not committed when a claim runs.
            let updated = AsyncStream<Void>.makeStream()
            let proceed = AsyncStream<Void>.makeStream()
            let reconnect = Task {
                try await db.client.withTransaction(logger: db.logger) { connection in
                    try await connection.query("UPDATE calendar_connections SET status = 'active' WHERE member_id = 'e'", logger: db.logger)
                    updated.continuation.yield()
                    for await _ in proceed.stream { break }
                }
            }
            for await _ in updated.stream { break }
            let during = try await Self.claimAll(store)
            #expect(during.reconciled == 4)  // b, c, d cleared, g moved past its limit; e skipped, not cleared
            proceed.continuation.yield()
            try await reconnect.value
            let after = try await Self.claimAll(store)
            #expect(after.due.map(\.memberID) == ["e"])  // still due from before: imported at once, never lost
        }
    }

    @Test("connections a claim cleared from a read that went stale are reopened when they may import, the others stay cleared")
    func clearedFromAStaleReadAreReopened() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            let store = PostgresSchedulerStore(client: db.client, logger: db.logger)
            let first = try await Self.claimAll(store)
            #expect(first.reconciled == 5)
            // As if e's reconnect and b's organization upgrade had committed between the claim's read and its update
            // (their triggers then found nothing cleared yet): the rows are NULL, the connections importable.
            try await db.execute("UPDATE calendar_connections SET status = 'active' WHERE member_id = 'e'")
            try await db.execute("UPDATE organizations SET plan = 'pro' WHERE id = 'free'")
            try await db.execute(
                "UPDATE connection_schedules s SET next_import_at = NULL FROM calendar_connections c WHERE c.id = s.connection_id AND c.member_id IN ('b', 'c', 'd', 'e')")
            let ids = try await db.client.query(
                "SELECT id::text FROM calendar_connections WHERE member_id IN ('b', 'c', 'd', 'e')", logger: db.logger
            ).decode(String.self).collectAll()
            try await store.reopenCleared(ids)
            let open = try await db.client.query(
                """
                SELECT c.member_id FROM calendar_connections c JOIN connection_schedules s ON s.connection_id = c.id
                WHERE c.member_id IN ('b', 'c', 'd', 'e') AND s.next_import_at = '-infinity' ORDER BY 1
                """, logger: db.logger
            ).decode(String.self).collectAll()
            #expect(open == ["b", "e"])  // c's organization is still off, d only exports
        }
    }

    @Test("due refreshes: active Google and Microsoft tokens within the margin, eligible organizations only, paginated")
    func dueRefreshes() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            let store = PostgresSchedulerStore(client: db.client, logger: db.logger)
            let all = try await store.dueRefreshes(marginSeconds: 600, after: nil, limit: 100)
            #expect(all.map { "\($0.memberID)/\($0.provider)" } == ["a/google", "d/google"])
            let page1 = try await store.dueRefreshes(marginSeconds: 600, after: nil, limit: 1)
            let page2 = try await store.dueRefreshes(marginSeconds: 600, after: page1.last, limit: 1)
            let page3 = try await store.dueRefreshes(marginSeconds: 600, after: page2.last, limit: 1)
            #expect((page1 + page2).map(\.memberID) == ["a", "d"] && page3.isEmpty)
            // A healthy token is not refreshed; a smaller margin excludes d (5 minutes left).
            let small = try await store.dueRefreshes(marginSeconds: 120, after: nil, limit: 100)
            #expect(small.map(\.memberID) == ["a"])
        }
    }

    @Test("parked changes replay when the export connection is active and the organization eligible, once")
    func parkedReplay() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db)
            try await db.execute(
                """
                INSERT INTO parked_changes (member_id, appointment_id, revision, kind, payload, ends_at, reason) VALUES
                ('a', 'ap1', 3, 'export', '{"member_id":"a"}', now() + interval '1 day', 'ineligible'),
                ('a', 'ap2', 1, 'export', '{"member_id":"a","old":true}', now() - interval '1 day', 'ineligible'),
                ('a', 'ap3', 2, 'delete', '{"member_id":"a","appointment_id":"ap3","revision":2}', NULL, 'ineligible'),
                ('c', 'ap4', 1, 'export', '{"member_id":"c"}', now() + interval '1 day', 'ineligible'),
                ('e', 'ap5', 1, 'export', '{"member_id":"e"}', now() + interval '1 day', 'reconnect_required')
                """)
            let store = PostgresSchedulerStore(client: db.client, logger: db.logger)
            let first = try await store.takeReplayableParkedChanges(memberLimit: 100)
            #expect(Set(first.map { "\($0.memberID)/\($0.appointmentID)" }) == ["a/ap1", "a/ap3"])
            let jobs = Set(first.map(\.replayJob))
            #expect(jobs.map(\.type).sorted() == ["delete_external_event", "export_appointment"])
            #expect(jobs.contains { $0.id == "replay-ap1-3" && $0.payload == Array(#"{"member_id":"a"}"#.utf8) })
            // Taken: not again; the ended export is gone.
            #expect(try await store.takeReplayableParkedChanges(memberLimit: 100).isEmpty)
            let left = try await db.client.query(
                "SELECT appointment_id FROM parked_changes ORDER BY appointment_id", logger: db.logger
            ).decode(String.self).collectAll()
            #expect(left == ["ap1", "ap3", "ap4", "ap5"])

            // The web tier flips c's organization back: the next call replays c's change, no job needed.
            try await db.execute("UPDATE organizations SET external_calendar_sync_enabled = true WHERE id = 'off'")
            let afterFlip = try await store.takeReplayableParkedChanges(memberLimit: 100)
            #expect(afterFlip.map(\.appointmentID) == ["ap4"])
        }
    }
}
