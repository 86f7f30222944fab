import CalsyncQueue
import CalsyncSandbox
import Foundation
import Testing

/// Provider rate limits kept in Redis, across worker processes.
@Suite("Rate limits end to end")
struct RateLimitEndToEndTests {
    @Test("four workers share one account's limit: the provider sees the configured rate, never a 429, and no attempt is burnt")
    func fourWorkersShareTheLimit() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            // The sandbox refuses this account more than R = 100 requests/s (a sliding window over 5 s, as Google
            // counts over a minute); calsync is told 97/s (5,820 a minute). 1,000 exports span two windows.
            let limits = ["CALSYNC_GOOGLE_USER_REQUESTS_PER_MINUTE": "5820"]
            for _ in 0..<4 { try world.startWorker(limits) }
            let account = try await world.connect("m-1")
            world.sandbox.setQuota(.google, email: account.email, requestsPerSecond: 100)
            world.sandbox.clearRequests()
            for index in 0..<1000 {
                try await world.export("m-1", "a-\(index)", revision: 1)
            }
            try await world.idle(timeout: .seconds(40))
            let requests = world.providerRequests(account).filter { !$0.path.contains("/oauth2/") }
            #expect(world.providerEvents(account).count == 1000)
            #expect(!requests.contains { $0.status == 429 || $0.status == 403 }, "the sandbox refused a request")
            let times = requests.map(\.time).sorted()
            let span = try #require(times.last).timeIntervalSince(try #require(times.first))
            let rate = Double(requests.count - 1) / span
            #expect(abs(rate - 100) / 100 <= 0.05, "observed \(rate) requests/s against R = 100/s")
            #expect(try await world.queue.stats(knownTypes: ["export_appointment"]).dead == 0)
        }
    }

    @Test("a 429 with Retry-After: no request for that account before it ends; the job is deferred, not failed")
    func retryAfterIsNeverUndercut() async throws {
        try await SyncWorld.withConnectedMember { world, account in
            var fault = SandboxFault(kind: .status(429, body: nil))
            fault.method = "POST"
            fault.pathContains = "/events"
            fault.remaining = 1
            _ = world.sandbox.addFault(fault)
            // The sandbox's 429 says Retry-After: 1. Nothing for this account may go before it ends, the other
            // job's request included (the connection's bucket is pushed, so every worker waits).
            world.sandbox.clearRequests()
            try await world.export("m-1", "a-1", revision: 1)
            let day = TestDay.d(1)
            try await world.export("m-1", "a-2", revision: 1, start: day + "T10:00:00Z", end: day + "T11:00:00Z")
            try await eventually("the 429", timeout: .seconds(10)) {
                world.sandbox.requests().contains { $0.status == 429 }
            }
            let refusedAt = try #require(world.sandbox.requests().first { $0.status == 429 }?.time)
            try await world.idle(timeout: .seconds(20))
            let later = world.providerRequests(account).filter { $0.time > refusedAt }
            let first = try #require(later.map(\.time).min())
            #expect(
                first.timeIntervalSince(refusedAt) >= 0.95,
                "a request came \(first.timeIntervalSince(refusedAt)) s after the 429: \(later.map { "\($0.method) \($0.path) \($0.status) +\($0.time.timeIntervalSince(refusedAt))" })")
            #expect(world.providerEvents(account).count == 2)
            #expect(try await world.queue.stats(knownTypes: ["export_appointment"]).dead == 0)
            let row = try #require(try await world.connection("m-1", .google))
            #expect(row.lastOutboundError == nil)
        }
    }
}
