import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import CalsyncSync
import Foundation

/// The request limits of one provider.
package struct ProviderRateLimits: Sendable, Hashable {
    /// Requests per second for the whole app (all connections); nil for none.
    package var appPerSecond: Double?
    /// Requests per second per connection (Google user, Microsoft mailbox); nil for none.
    package var connectionPerSecond: Double?
    /// Concurrent requests per connection; nil for none.
    package var connectionConcurrency: Int?

    /// Creates limits.
    package init(appPerSecond: Double?, connectionPerSecond: Double?, connectionConcurrency: Int?) {
        self.appPerSecond = appPerSecond
        self.connectionPerSecond = connectionPerSecond
        self.connectionConcurrency = connectionConcurrency
    }

    /// The limits of a provider's quota (per minute → per second; 0 → none).
    package init(_ quota: ProviderQuota) {
        self.init(
            appPerSecond: quota.appRequestsPerMinute > 0 ? Double(quota.appRequestsPerMinute) / 60 : nil,
            connectionPerSecond: quota.connectionRequestsPerMinute > 0 ? Double(quota.connectionRequestsPerMinute) / 60 : nil,
            connectionConcurrency: quota.connectionConcurrency > 0 ? quota.connectionConcurrency : nil)
    }
}

/// `RateLimiter` on Redis, shared by every worker process: a GCRA per bucket (the provider's app-wide
/// one and each connection's), evaluated with the connection's concurrency cap in one script, on Redis's clock.
package struct RedisRateLimiter: RateLimiter {
    let redis: RedisClient
    let prefix: String
    let limits: [String: ProviderRateLimits]

    /// Creates the limiter; `limits` by provider name (`google`, `microsoft`).
    package init(redis: RedisClient, prefix: String, limits: [String: ProviderRateLimits]) {
        self.redis = redis
        self.prefix = prefix
        self.limits = limits
    }

    // KEYS: provider bucket, connection bucket, connection in-flight set.
    // ARGV: provider interval µs (0 = none), connection interval µs (0 = none), concurrency cap (0 = none),
    //       permit, permit lease ms, reserve-up-to µs.
    // A bucket holds its theoretical arrival time (µs): the earliest moment its next request may go.
    // A bucket without a rate (interval 0) is still read: a provider's Retry-After pushes it too.
    // Returns {1, wait µs} when a slot was taken (send after the wait), {0, wait µs, limit} when not.
    static let acquireScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local providerInterval, connectionInterval = tonumber(ARGV[1]), tonumber(ARGV[2])
        local cap, lease, reserve = tonumber(ARGV[3]), tonumber(ARGV[5]), tonumber(ARGV[6])
        local function arrival(key)
          local stored = tonumber(redis.call('GET', key) or '0')
          if stored < now then return now end
          return stored
        end
        local providerAt, connectionAt = arrival(KEYS[1]), arrival(KEYS[2])
        if cap > 0 then
          redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', math.floor(now / 1000))
          if redis.call('ZCARD', KEYS[3]) >= cap then return {0, 20000, 'concurrency'} end
        end
        local start = math.max(providerAt, connectionAt)
        local wait = start - now
        if wait > reserve then
          if providerAt >= connectionAt then return {0, wait, 'provider'} end
          return {0, wait, 'connection'}
        end
        if providerInterval > 0 then
          redis.call('SET', KEYS[1], start + providerInterval, 'PX', math.floor((wait + providerInterval) / 1000) + 1000)
        end
        if connectionInterval > 0 then
          redis.call('SET', KEYS[2], start + connectionInterval, 'PX', math.floor((wait + connectionInterval) / 1000) + 1000)
        end
        if cap > 0 then
          redis.call('ZADD', KEYS[3], math.floor((now + wait) / 1000) + lease, ARGV[4])
          redis.call('PEXPIRE', KEYS[3], lease * 2)
        end
        return {1, wait}
        """)

    // KEYS: the bucket, its penalty key; ARGV: µs from now before which nothing may be sent.
    static let penalizeScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local target = now + tonumber(ARGV[1])
        local ttl = math.floor(tonumber(ARGV[1]) / 1000) + 1000
        for _, key in ipairs(KEYS) do
          local stored = tonumber(redis.call('GET', key) or '0')
          if stored < target then redis.call('SET', key, target, 'PX', ttl) end
        end
        return 1
        """)

    // KEYS: the provider's and the connection's penalty keys. Returns µs until the later one ends (0: none).
    static let penaltyScript = RedisScript(
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local ends = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(redis.call('GET', KEYS[2]) or '0'))
        if ends > now then return ends - now end
        return 0
        """)

    func keys(_ scope: RateScope) -> [String] {
        ["\(prefix):rate:\(scope.provider)", "\(prefix):rate:connection:\(scope.connectionID)", "\(prefix):inflight:\(scope.connectionID)"]
    }

    static func micros(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
    }

    static func interval(_ perSecond: Double?) -> Int64 {
        guard let perSecond, perSecond > 0 else { return 0 }
        return Int64((1_000_000 / perSecond).rounded())
    }

    package func acquire(_ scope: RateScope, reserveUpTo: Duration) async throws -> RateDecision {
        let limit = limits(of: scope.provider) ?? ProviderRateLimits(appPerSecond: nil, connectionPerSecond: nil, connectionConcurrency: nil)
        let app = Self.interval(limit.appPerSecond)
        let connection = Self.interval(limit.connectionPerSecond)
        let cap = limit.connectionConcurrency ?? 0
        // No early "unlimited" answer: even with every rate at 0 a provider's Retry-After holds all workers.
        let permit = JobLock.randomToken()
        let reply = try await redis.evaluate(
            Self.acquireScript, keys: keys(scope),
            args: [String(app), String(connection), String(cap), permit, "60000", String(Self.micros(reserveUpTo))])
        let parts = reply.array ?? []
        let granted = parts.first?.int == 1
        let wait = Duration.microseconds(parts.count > 1 ? (parts[1].int ?? 0) : 0)
        if granted { return wait > .zero ? .sendAfter(wait, permit: permit) : .send(permit: permit) }
        return .denied(wait, limit: parts.count > 2 ? (parts[2].string ?? "connection") : "connection")
    }

    package func release(_ scope: RateScope, permit: String) async {
        guard !permit.isEmpty, (limits(of: scope.provider)?.connectionConcurrency ?? 0) > 0 else { return }
        _ = try? await redis.send(["ZREM", keys(scope)[2], permit])
    }

    package func penalize(_ scope: RateScope, appWide: Bool, for duration: Duration) async {
        let key = keys(scope)[appWide ? 0 : 1]
        _ = try? await redis.evaluate(
            Self.penalizeScript, keys: [key, key + ":retry_after"], args: [String(max(0, Self.micros(duration)))])
    }

    package func penaltyRemaining(_ scope: RateScope) async -> Duration? {
        let bucketKeys = keys(scope)
        guard let reply = try? await redis.evaluate(
            Self.penaltyScript, keys: [bucketKeys[0] + ":retry_after", bucketKeys[1] + ":retry_after"], args: []),
            let micros = reply.int, micros > 0
        else { return nil }
        return .microseconds(micros)
    }
}
