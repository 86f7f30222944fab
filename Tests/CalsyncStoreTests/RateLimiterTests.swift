@testable import CalsyncApp
import CalsyncRedis
import CalsyncSync
@testable import CalsyncSyncRedis
import CalsyncTestSupport
import Foundation
import Logging
import Testing

/// The Redis GCRA limiter shared by all worker processes.
@Suite("Rate limiter (Redis)")
struct RateLimiterTests {
    static func withLimiter(
        _ limits: ProviderRateLimits, _ body: (RedisRateLimiter, RateScope) async throws -> Void
    ) async throws {
        let redis = RedisClient.running(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), logger: Logger(label: "test"), poolSize: 2)
        defer { redis.close() }
        do {
            _ = try await redis.send(["PING"])
        } catch {
            Issue.record(Comment(rawValue: TestEnvironment.missingServer("Redis", url: TestEnvironment.redisURL, underlying: error)))
            throw error
        }
        let prefix = TestEnvironment.uniqueName("rate")
        let limiter = RedisRateLimiter(redis: redis, prefix: prefix, limits: ["google": limits])
        try await body(limiter, RateScope(provider: "google", connectionID: "c-1"))
        let keys = try await redis.send(["KEYS", "\(prefix):*"]).array?.compactMap(\.string) ?? []
        if !keys.isEmpty { _ = try await redis.send(["DEL"] + keys) }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func wait(_ decision: RateDecision) -> Duration? {
        switch decision {
        case .send: .zero
        case .sendAfter(let wait, _): wait
        case .denied: nil
        }
    }

    @Test("reserved slots are spaced one interval apart; past the reserve horizon a request is denied with its wait")
    func spacing() async throws {
        try await Self.withLimiter(.init(appPerSecond: nil, connectionPerSecond: 10, connectionConcurrency: nil)) { limiter, scope in
            // Each slot is where the call found it (time since the first call) plus the wait it was given:
            // slots lie 100 ms apart, up to the calls' own latency (which a loaded machine stretches).
            let clock = ContinuousClock()
            let first = clock.now
            var slots: [Double] = []
            var slowest = Duration.zero
            for _ in 0..<5 {
                let before = clock.now
                let decision = try await limiter.acquire(scope, reserveUpTo: .seconds(2))
                slowest = max(slowest, clock.now - before)
                slots.append(Self.seconds(before - first) + Self.seconds(try #require(Self.wait(decision))))
            }
            let tolerance = Self.seconds(slowest) + 0.02
            for (index, slot) in slots.enumerated() {
                #expect(abs(slot - Double(index) * 0.1) <= tolerance, "slot \(index) at \(slot) s (tolerance \(tolerance) s)")
            }
            let before = clock.now
            let denied = try await limiter.acquire(scope, reserveUpTo: .zero)
            guard case .denied(let wait, let limit) = denied else {
                Issue.record("expected a denial, got \(denied)")
                return
            }
            #expect(limit == "connection")
            // The next free slot is 500 ms after the first.
            #expect(abs(Self.seconds(before - first) + Self.seconds(wait) - 0.5) <= tolerance + Self.seconds(clock.now - before))
        }
    }

    @Test("a provider's rate-limit answer pushes the bucket: nothing goes before it ends")
    func penalty() async throws {
        try await Self.withLimiter(.init(appPerSecond: 100, connectionPerSecond: 10, connectionConcurrency: nil)) { limiter, scope in
            #expect(await limiter.penaltyRemaining(scope) == nil)
            await limiter.penalize(scope, appWide: false, for: .seconds(2))
            let remaining = try #require(await limiter.penaltyRemaining(scope))
            #expect(remaining > .milliseconds(1500) && remaining <= .seconds(2))
            guard case .denied(let wait, "connection") = try await limiter.acquire(scope, reserveUpTo: .milliseconds(250)) else {
                Issue.record("the connection's bucket was not pushed")
                return
            }
            #expect(wait > .milliseconds(1500))
            // App-wide: another connection of the provider waits too.
            await limiter.penalize(scope, appWide: true, for: .seconds(3))
            let other = RateScope(provider: "google", connectionID: "c-2")
            guard case .denied(let otherWait, "provider") = try await limiter.acquire(other, reserveUpTo: .milliseconds(250)) else {
                Issue.record("the provider's bucket was not pushed")
                return
            }
            #expect(otherWait > .milliseconds(2500))
        }
    }

    @Test("with every rate at 0 (unlimited) a provider's Retry-After still holds every worker until it passes")
    func penaltyWithoutRates() async throws {
        try await Self.withLimiter(.init(appPerSecond: nil, connectionPerSecond: nil, connectionConcurrency: nil)) { limiter, scope in
            guard case .send = try await limiter.acquire(scope, reserveUpTo: .milliseconds(250)) else {
                Issue.record("no limit and no penalty: send at once")
                return
            }
            // One worker sees a 429 with Retry-After: 2; another worker (its own limiter on the same Redis) must wait.
            await limiter.penalize(scope, appWide: false, for: .seconds(2))
            let otherWorker = RedisRateLimiter(redis: limiter.redis, prefix: limiter.prefix, limits: limiter.limits)
            guard case .denied(let wait, "connection") = try await otherWorker.acquire(scope, reserveUpTo: .milliseconds(250)) else {
                Issue.record("the Retry-After was ignored with the rate at 0")
                return
            }
            #expect(wait > .milliseconds(1500) && wait <= .seconds(2))
            // App-wide (quotaExceeded): another connection waits too.
            await limiter.penalize(scope, appWide: true, for: .seconds(3))
            let other = RateScope(provider: "google", connectionID: "c-2")
            guard case .denied(let otherWait, "provider") = try await otherWorker.acquire(other, reserveUpTo: .milliseconds(250)) else {
                Issue.record("the app-wide Retry-After was ignored with the rate at 0")
                return
            }
            #expect(otherWait > .milliseconds(2500))
            // A short one is waited out in place, then the request goes.
            let third = RateScope(provider: "microsoft", connectionID: "c-3")
            await limiter.penalize(third, appWide: false, for: .milliseconds(100))
            guard case .sendAfter(let short, _) = try await otherWorker.acquire(third, reserveUpTo: .milliseconds(250)) else {
                Issue.record("a Retry-After within the reserve horizon is waited out")
                return
            }
            #expect(short > .zero && short <= .milliseconds(100))
        }
    }

    @Test("a connection's concurrent requests are capped; releasing frees a slot")
    func concurrencyCap() async throws {
        try await Self.withLimiter(.init(appPerSecond: nil, connectionPerSecond: nil, connectionConcurrency: 2)) { limiter, scope in
            var permits: [String] = []
            for _ in 0..<2 {
                guard case .send(let permit) = try await limiter.acquire(scope, reserveUpTo: .zero) else {
                    Issue.record("a free slot was refused")
                    return
                }
                permits.append(permit)
            }
            guard case .denied(_, "concurrency") = try await limiter.acquire(scope, reserveUpTo: .zero) else {
                Issue.record("a third concurrent request was admitted")
                return
            }
            await limiter.release(scope, permit: permits[0])
            guard case .send = try await limiter.acquire(scope, reserveUpTo: .zero) else {
                Issue.record("the released slot was not free")
                return
            }
        }
    }
}
