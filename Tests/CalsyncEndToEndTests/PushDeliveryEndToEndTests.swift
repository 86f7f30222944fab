import CalsyncSandbox
import CalsyncTestSupport
import Foundation
import Testing

/// Push delivery fallback end to end (review findings 8 and 10): real webhooks, worker and scheduler against the
/// sandbox, with a public URL nobody answers.
@Suite("push end to end: delivery fallback", .serialized)
struct PushDeliveryEndToEndTests {
    @Test("a Google channel that never delivers falls back to polling; a refused Graph subscription leaves no dead renew_push")
    func silentChannelFallsBack() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-4")
            try await world.member("m-5")
            // Nothing listens at the public URL: Google accepts the watch but its sync message is never delivered;
            // Graph's validation request fails, a permanent refusal.
            let closed = try PrivateServers.freePort()
            let processes = try PushEndToEndTests.PushProcesses(
                world: world, publicURL: "http://127.0.0.1:\(closed)", extra: ["CALSYNC_PUSH_SYNC_TIMEOUT_SECONDS": "3"])
            defer { processes.stop() }
            let e2e = PushEndToEndTests()
            _ = try await world.connect("m-4", provider: .google)
            _ = try await world.connect("m-5", provider: .microsoft)
            try await eventually("Google push unavailable for want of delivery", timeout: .seconds(45), context: processes.logs + world.allLogs) {
                try await e2e.push(world, "m-4", .google)?.detail?.contains("sync message") == true
            }
            let row = try #require(try await e2e.push(world, "m-4", .google))
            #expect(row.status == "unavailable" && row.detail?.contains("polling") == true)
            // Polling at the normal interval (3600 s here), not the push safety net (21 600 s).
            if let next = row.nextImportAt { #expect(next < Date().addingTimeInterval(3600 * 1.2)) }

            try await eventually("Graph push unavailable", timeout: .seconds(30), context: processes.logs + world.allLogs) {
                try await e2e.push(world, "m-5", .microsoft)?.status == "unavailable"
            }
            try await Task.sleep(for: .seconds(1))
            let dead = try await CLIProcess.run(["dead", "list", "--json"], environment: world.workerEnvironment)
            #expect(dead.status == 0)
            #expect(!dead.stdout.contains("renew_push"), "a permanent push refusal must not dead-letter: \(dead.stdout)")
        }
    }
}
