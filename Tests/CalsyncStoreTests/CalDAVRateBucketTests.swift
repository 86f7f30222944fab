import CalsyncRedis
import CalsyncSync
@testable import CalsyncSyncRedis
import CalsyncTestSupport
import Foundation
import Logging
import Testing

/// CalDAV's limits: a bucket per server host, and a concurrency cap per connection, in the Redis limiter.
@Suite("CalDAV rate buckets")
struct CalDAVRateBucketTests {
    static func connection(_ id: String, calendar: String?) -> ConnectionRecord {
        ConnectionRecord(
            id: id, memberID: "m-\(id)", provider: .caldav, accountEmail: "u", status: .active, statusDetail: nil,
            exportCalendarID: calendar, busyCalendarIDs: calendar.map { [$0] } ?? [], syncDirection: .both, eventDetails: .private,
            credentials: nil)
    }

    @Test func eachServerHostHasItsOwnBucket() {
        #expect(Self.connection("a", calendar: "https://p42-caldav.icloud.com/123/calendars/home/").rateBucket == "caldav:p42-caldav.icloud.com")
        #expect(Self.connection("b", calendar: "https://caldav.fastmail.com/dav/calendars/user/x/").rateBucket == "caldav:caldav.fastmail.com")
        #expect(Self.connection("c", calendar: nil).rateBucket == "caldav")
        var google = Self.connection("d", calendar: "primary@example.com")
        google.provider = .google
        #expect(google.rateBucket == "google")
    }

    @Test func aHostsBucketTakesCalDAVsLimitsAndHostsDoNotShareIt() async throws {
        let redis = RedisClient.running(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), logger: Logger(label: "test"), poolSize: 2)
        defer { redis.close() }
        let prefix = TestEnvironment.uniqueName("caldav-rate")
        // One request per 10 s per host; two connections at once per connection.
        let limiter = RedisRateLimiter(
            redis: redis, prefix: prefix, limits: ["caldav": ProviderRateLimits(appPerSecond: 0.1, connectionPerSecond: nil, connectionConcurrency: 2)])
        let icloudA = RateScope(provider: "caldav:p1-caldav.icloud.com", connectionID: "a")
        let icloudB = RateScope(provider: "caldav:p1-caldav.icloud.com", connectionID: "b")
        let fastmail = RateScope(provider: "caldav:caldav.fastmail.com", connectionID: "c")
        guard case .send = try await limiter.acquire(icloudA, reserveUpTo: .zero) else {
            Issue.record("the first request to a host goes at once")
            return
        }
        // A second connection on the same host waits for that host's bucket…
        guard case .denied(_, let limit) = try await limiter.acquire(icloudB, reserveUpTo: .zero) else {
            Issue.record("the host's bucket holds a second connection's request")
            return
        }
        #expect(limit == "provider")
        // …another host does not.
        guard case .send = try await limiter.acquire(fastmail, reserveUpTo: .zero) else {
            Issue.record("another host has its own bucket")
            return
        }
        let keys = try await redis.send(["KEYS", "\(prefix):*"]).array?.compactMap(\.string) ?? []
        if !keys.isEmpty { _ = try await redis.send(["DEL"] + keys) }
    }
}
