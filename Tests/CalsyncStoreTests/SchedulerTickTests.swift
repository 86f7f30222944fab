import CalsyncApp
import CalsyncRedis
import CalsyncScheduler
import CalsyncStore
import CalsyncTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

/// One scheduler tick in process, against the test PostgreSQL (own schema) and Redis (own prefix).
@Suite("Scheduler tick")
struct SchedulerTickTests {
    static func withScheduler(
        _ body: @Sendable (TestDatabase, RedisClient, Scheduler, String) async throws -> Void
    ) async throws {
        try await TestDatabase.with { db in
            let prefix = TestEnvironment.uniqueName("sched")
            var logger = Logger(label: "calsync.test.scheduler")
            logger.logLevel = .warning
            let redis = RedisClient.running(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), logger: logger)
            defer { redis.close() }
            let configuration = Scheduler.Configuration(prefix: prefix)
            let scheduler = Scheduler(
                redis: redis, store: PostgresSchedulerStore(client: db.client, logger: logger),
                configuration: configuration, replicaID: "test-\(prefix)", logger: logger)
            do {
                try await body(db, redis, scheduler, prefix)
            } catch {
                await Self.cleanup(redis, prefix: prefix)
                throw error
            }
            await Self.cleanup(redis, prefix: prefix)
        }
    }

    static func cleanup(_ redis: RedisClient, prefix: String) async {
        let keys = (try? await redis.send(["KEYS", "\(prefix):*"]).array?.compactMap(\.string)) ?? []
        if !keys.isEmpty { _ = try? await redis.send(["DEL"] + keys) }
    }

    /// `count` members of one eligible organization, each with a Google connection whose next import is `next` (SQL).
    static func seed(_ db: TestDatabase, count: Int, next: String, lastFullResync: String = "now()") async throws {
        try await db.execute("INSERT INTO organizations (id, plan, external_calendar_sync_enabled) VALUES ('org', 'pro', true)")
        try await db.execute(
            "INSERT INTO members (id, organization_id) SELECT 'm' || g, 'org' FROM generate_series(1, \(count)) g")
        try await db.execute(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO calendar_connections (member_id, provider, access_token_expires_at)
                    SELECT id, 'google', now() + interval '1 day' FROM members
                    """))
        try await db.execute(
            PostgresQuery(unsafeSQL: "UPDATE connection_schedules SET next_import_at = \(next), last_full_resync_at = \(lastFullResync)"))
    }

    /// PostgreSQL's clock now.
    static func databaseNow(_ db: TestDatabase) async throws -> Date {
        let rows = try await db.client.query("SELECT clock_timestamp()", logger: db.logger).decode(Date.self).collectAll()
        return try #require(rows.first)
    }

    /// The member ids of the jobs in a ready list.
    static func queuedMembers(_ redis: RedisClient, _ prefix: String, _ type: String) async throws -> [String] {
        let jobs = try await redis.send(["LRANGE", "\(prefix):queue:\(type)", "0", "-1"]).array ?? []
        return try jobs.compactMap(\.bytes).map { bytes in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
            #expect(object["type"] as? String == type)
            let payload = try #require(object["payload"] as? [String: Any])
            return try #require(payload["member_id"] as? String)
        }
    }

    @Test("new connections get distinct first import times spread over one interval, and nothing fires at once")
    func spread() async throws {
        try await Self.withScheduler { db, redis, scheduler, prefix in
            try await Self.seed(db, count: 2000, next: "'-infinity'", lastFullResync: "NULL")  // new: no time yet
            let before = try await Self.databaseNow(db)
            let report = try #require(try await scheduler.runOnce())
            let slack = try await Self.databaseNow(db).timeIntervalSince(before)
            #expect(report.newlyScheduled == 2000)
            #expect(report.imports == 0 && report.fullResyncs == 0)
            #expect(try await Self.queuedMembers(redis, prefix, "import_window").isEmpty)
            let rows = try await db.client.query(
                """
                SELECT count(DISTINCT next_import_at), min(extract(epoch FROM next_import_at - \(before)))::float8,
                       max(extract(epoch FROM next_import_at - \(before)))::float8,
                       count(DISTINCT date_trunc('second', next_import_at)),
                       max(extract(epoch FROM \(before) - last_full_resync_at))::float8
                FROM connection_schedules
                """, logger: db.logger
            ).decode((Int64, Double, Double, Int64, Double).self).collectAll()
            let (distinct, earliest, latest, seconds, oldestResync) = try #require(rows.first)
            #expect(distinct == 2000)
            #expect(earliest >= 0 && earliest < 30 + slack)
            #expect(latest > 270 && latest <= 300 + slack)
            // 2,000 connections over 300 s: no second holds more than a small share of them.
            #expect(seconds > 250)
            // The daily full resync is spread over the day the same way.
            #expect(oldestResync > 43_200 && oldestResync <= 86_400)
        }
    }

    @Test("a tick over 10,000 due connections enqueues each import once; a pending import is not enqueued again")
    func tenThousand() async throws {
        try await Self.withScheduler { db, redis, scheduler, prefix in
            try await Self.seed(db, count: 10_000, next: "now() - interval '1 minute'")
            let started = ContinuousClock.now
            let report = try #require(try await scheduler.runOnce())
            let elapsed = ContinuousClock.now - started
            print("scheduler tick over 10,000 due connections: \(elapsed)")
            #expect(report.imports == 10_000 && report.fullResyncs == 0 && report.deduplicated == 0)
            let members = try await Self.queuedMembers(redis, prefix, "import_window")
            #expect(members.count == 10_000 && Set(members).count == 10_000)

            // Nothing is due now.
            let again = try #require(try await scheduler.runOnce())
            #expect(again.imports == 0)

            // Due again while every import is still queued: the markers hold them all back.
            try await db.execute("UPDATE connection_schedules SET next_import_at = now() - interval '1 second'")
            let pending = try #require(try await scheduler.runOnce())
            #expect(pending.imports == 0 && pending.deduplicated == 10_000)
            #expect(try await redis.send(["LLEN", "\(prefix):queue:import_window"]).int == 10_000)
        }
    }

    @Test("a full resync replaces the regular import once a day")
    func fullResync() async throws {
        try await Self.withScheduler { db, redis, scheduler, prefix in
            try await Self.seed(db, count: 3, next: "now() - interval '1 minute'", lastFullResync: "now() - interval '25 hours'")
            try await db.execute(
                "UPDATE connection_schedules s SET last_full_resync_at = now() FROM calendar_connections c WHERE c.id = s.connection_id AND c.member_id = 'm3'")
            let report = try #require(try await scheduler.runOnce())
            #expect(report.fullResyncs == 2 && report.imports == 1)
            let jobs = (try await redis.send(["LRANGE", "\(prefix):queue:import_window", "0", "-1"]).array ?? [])
                .compactMap(\.string)
            #expect(jobs.count == 3)
            #expect(jobs.filter { $0.contains(#""full_resync":true"#) }.count == 2)
            #expect(jobs.contains { $0.contains(#""member_id":"m3""#) && !$0.contains("full_resync") })
        }
    }

    @Test("refresh_token is enqueued before expiry, once, and not for healthy tokens")
    func refresh() async throws {
        try await Self.withScheduler { db, redis, scheduler, prefix in
            try await Self.seed(db, count: 3, next: "now() + interval '1 hour'")
            try await db.execute(
                "UPDATE calendar_connections SET access_token_expires_at = now() + interval '4 minutes' WHERE member_id = 'm1'")
            try await db.execute(
                "UPDATE calendar_connections SET access_token_expires_at = now() + interval '9 minutes' WHERE member_id = 'm2'")
            let report = try #require(try await scheduler.runOnce())
            #expect(report.refreshes == 2)
            #expect(Set(try await Self.queuedMembers(redis, prefix, "refresh_token")) == ["m1", "m2"])
            // Still queued: not again.
            let again = try #require(try await scheduler.runOnce())
            #expect(again.refreshes == 0)
            #expect(try await redis.send(["LLEN", "\(prefix):queue:refresh_token"]).int == 2)
        }
    }

    @Test("--once does nothing while another replica leads")
    func notLeader() async throws {
        try await Self.withScheduler { db, redis, scheduler, prefix in
            try await Self.seed(db, count: 5, next: "now() - interval '1 minute'")
            _ = try await redis.send(["SET", "\(prefix):scheduler:leader", "someone-else", "PX", "10000"])
            #expect(try await scheduler.runOnce() == nil)
            #expect(try await redis.send(["LLEN", "\(prefix):queue:import_window"]).int == 0)
            #expect(try await redis.send(["GET", "\(prefix):scheduler:leader"]).string == "someone-else")
        }
    }
}
