import CalsyncQueue
import CalsyncRedis
import CalsyncSandbox
import CalsyncTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// An authorization code is single-use: a `connect_calendar` interrupted by a shutdown must not send it twice.
@Suite("Connect once end to end")
struct ConnectOnceTests {
    /// The token endpoint holds the code exchange for 3 s; the worker gets SIGTERM with a 1 s grace meanwhile.
    /// Before, the handler was cancelled (the exchange abandoned, but the provider redeemed the code anyway)
    /// and the job handed back; its rerun sent the code again, got `invalid_grant`, and went dead although
    /// the member had done nothing wrong.
    @Test("a shutdown during the code exchange: connected once, never redeemed twice")
    func shutdownDuringExchange() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            let first = try world.startWorker(["CALSYNC_SHUTDOWN_GRACE_SECONDS": "1"])
            let account = world.sandbox.createAccount(.google, email: "m-1@google.sandbox.test", timeZone: "UTC")
            var fault = SandboxFault(kind: .hang(milliseconds: 3000))
            fault.method = "POST"
            fault.pathContains = "/oauth2/token"
            fault.remaining = 1
            _ = world.sandbox.addFault(fault)
            let code = world.sandbox.issueAuthorizationCode(.google, email: account.email, redirectURI: SyncWorld.redirectURI)
            try await world.enqueue(
                "connect_calendar",
                #"{"member_id":"m-1","actor_member_id":"m-1","provider":"google","authorization_code":"\#(code)","redirect_uri":"\#(SyncWorld.redirectURI)"}"#)
            try await eventually("the connect to be claimed", timeout: .seconds(10)) {
                try await world.redis.send(["ZCARD", "\(world.prefix):leases"]).int == 1
            }
            try await Task.sleep(for: .milliseconds(300))
            first.child.signal(SIGTERM)
            #expect(await first.child.wait(timeout: .seconds(20)) != nil, "the worker stopped")
            // The provider applies the held exchange whatever became of the worker: the code is spent now.
            try await eventually("the held exchange to be applied", timeout: .seconds(10)) {
                world.sandbox.requests().contains { $0.path.hasSuffix("/oauth2/token") }
            }
            try world.startWorker()
            try await world.idle(timeout: .seconds(20))
            #expect(try await world.connection("m-1", .google)?.status == "active", "\(world.allLogs)")
            let dead = try await world.queue.deadList(type: nil, limit: 10)
            #expect(dead.isEmpty, "\(dead.map(\.error))")
            let exchanges = world.sandbox.requests().filter { $0.path.hasSuffix("/oauth2/token") && $0.status == 200 }
            #expect(exchanges.count == 1, "the code was sent \(exchanges.count) times")
        }
    }
}
