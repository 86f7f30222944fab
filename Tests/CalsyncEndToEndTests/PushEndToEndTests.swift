import AsyncHTTPClient
import CalsyncSandbox
import CalsyncTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import PostgresNIO
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Push end to end: real `calsync webhooks`, `calsync worker` and `calsync scheduler` processes against the
/// sandbox, which opens watch channels and subscriptions and delivers their notifications.
@Suite("push end to end: webhooks, worker and scheduler against the sandbox", .serialized)
struct PushEndToEndTests {
    /// The push state of a connection.
    struct PushRow {
        var status: String
        var detail: String?
        var expiresAt: Date?
        var nextImportAt: Date?
    }

    /// The processes of one push world.
    final class PushProcesses: @unchecked Sendable {
        let webhooks: ChildProcess
        let webhooksLog: URL
        let scheduler: SchedulerProcess
        let port: Int

        init(world: SyncWorld, publicURL: String? = nil, extra: [String: String] = [:]) throws {
            port = try PrivateServers.freePort()
            var environment = world.workerEnvironment
            environment["CALSYNC_PUBLIC_URL"] = publicURL ?? "http://127.0.0.1:\(port)"
            environment["CALSYNC_WEBHOOK_PORT"] = String(port)
            environment["CALSYNC_WEBHOOK_HOST"] = "127.0.0.1"
            environment["CALSYNC_PUSH_DEBOUNCE_MS"] = "300"
            environment["CALSYNC_SCHEDULER_TICK_SECONDS"] = "1"
            environment["CALSYNC_IMPORT_INTERVAL_SECONDS"] = "3600"
            environment["CALSYNC_PUSH_CHANNEL_TTL_SECONDS"] = "600"
            environment["CALSYNC_PUSH_RENEW_BEFORE_SECONDS"] = "60"
            environment.merge(extra) { $1 }
            webhooksLog = world.logDirectory.appendingPathComponent("webhooks.log")
            webhooks = try ChildProcess(
                executable: TestEnvironment.calsyncBinary.path, arguments: ["webhooks"],
                environment: ChildProcess.environment(environment), stdoutPath: webhooksLog.path, stderrPath: webhooksLog.path)
            scheduler = try SchedulerProcess(environment: environment, log: world.logDirectory.appendingPathComponent("scheduler.log"))
            try world.startWorker(environment)
        }

        var logs: String {
            ((try? String(contentsOf: webhooksLog, encoding: .utf8)) ?? "") + "\n" + scheduler.log
        }

        func stop() {
            webhooks.signal(SIGKILL)
            scheduler.abandon()
        }
    }

    func push(_ world: SyncWorld, _ member: String, _ provider: SandboxProvider) async throws -> PushRow? {
        let rows = try await world.db.query(
            """
            SELECT push_status, push_detail, push_expires_at, next_import_at FROM calendar_connections
            JOIN connection_schedules ON connection_id = id
            WHERE member_id = \(member) AND provider = \(provider.rawValue)
            """, logger: e2eLogger)
        for try await row in rows.decode((String, String?, Date?, Date?).self) {
            return PushRow(status: row.0, detail: row.1, expiresAt: row.2, nextImportAt: row.3)
        }
        return nil
    }

    /// POSTs to the webhooks process; returns the status.
    @discardableResult
    func post(_ url: String, headers: [(String, String)] = [], body: String = "") async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    /// An event an hour long starting `hours` from now (whole minutes).
    func busyEvent(_ summary: String, hours: Double) -> SandboxEvent {
        let start = Date(timeIntervalSince1970: ((Date().timeIntervalSince1970 + hours * 3600) / 60).rounded() * 60)
        return SandboxEvent(summary: summary, start: start, end: start.addingTimeInterval(3600))
    }

    func visible(_ world: SyncWorld, _ member: String, _ event: SandboxEvent) async throws -> Bool {
        try await world.visibleBusy(member).contains { $0.start == event.start && $0.end == event.end }
    }

    /// Import reads of an account (Google event lists, Graph delta pages).
    func importReads(_ world: SyncWorld, _ account: SandboxAccount) -> Int {
        world.providerRequests(account).filter {
            $0.method == "GET" && ($0.path.hasSuffix("/events") || $0.path.contains("/delta"))
        }.count
    }

    @Test("Google: a change reaches the busy view by push; forged and stale notifications change nothing; a storm is coalesced; renewal opens a new channel then stops the old; disconnect stops it")
    func google() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            // A short channel life and a wide renewal margin: the scheduler renews within seconds.
            let processes = try PushProcesses(
                world: world, extra: ["CALSYNC_PUSH_CHANNEL_TTL_SECONDS": "70", "CALSYNC_PUSH_RENEW_BEFORE_SECONDS": "55"])
            defer { processes.stop() }
            let account = try await world.connect("m-1", provider: .google)
            try await eventually("push active", timeout: .seconds(20), context: processes.logs + world.allLogs) {
                try await push(world, "m-1", .google)?.status == "active"
            }
            let first = try #require(world.sandbox.pushChannels().first { $0.email == account.email })
            #expect(first.address == "http://127.0.0.1:\(processes.port)/webhooks/google")
            try await world.idle()

            // A change at the provider reaches member_busy_intervals with no scheduled import.
            let dentist = busyEvent("Dentist", hours: 3)
            world.sandbox.insertEvent(.google, email: account.email, calendarID: account.primaryCalendarID, dentist)
            try await eventually("the change by push", timeout: .seconds(10), context: processes.logs + world.allLogs) {
                try await visible(world, "m-1", dentist)
            }

            // Forged (wrong token, wrong resource) and stale (unknown channel) notifications change nothing.
            try await Task.sleep(for: .seconds(1))
            try await world.idle()
            var lost = SandboxPushFaults()
            lost.dropProbability = 1
            world.sandbox.setPushFaults(lost)
            let hidden = busyEvent("Unseen", hours: 5)
            world.sandbox.insertEvent(.google, email: account.email, calendarID: account.primaryCalendarID, hidden)
            let url = "http://127.0.0.1:\(processes.port)/webhooks/google"
            for headers in [
                [("X-Goog-Channel-ID", first.id), ("X-Goog-Channel-Token", "forged"), ("X-Goog-Resource-State", "exists")],
                [("X-Goog-Channel-ID", "calsync-unknown"), ("X-Goog-Channel-Token", "x"), ("X-Goog-Resource-State", "exists")],
            ] {
                #expect(try await post(url, headers: headers + [("X-Goog-Resource-ID", "R0")]) == 200)
            }
            try await Task.sleep(for: .seconds(2))
            #expect(try await !visible(world, "m-1", hidden))

            // A storm: 30 changes at once cost a handful of imports, and every change arrives.
            world.sandbox.setPushFaults(SandboxPushFaults())
            let before = importReads(world, account)
            var storm: [SandboxEvent] = []
            for index in 0..<30 {
                let event = busyEvent("Storm \(index)", hours: 10 + Double(index))
                storm.append(event)
                world.sandbox.insertEvent(.google, email: account.email, calendarID: account.primaryCalendarID, event)
                try await Task.sleep(for: .milliseconds(20))
            }
            try await eventually("every storm change", timeout: .seconds(15), context: processes.logs) {
                let busy = try await world.visibleBusy("m-1")
                return storm.allSatisfy { e in busy.contains { $0.start == e.start } }
            }
            try await world.idle()
            let reads = importReads(world, account) - before
            #expect(reads >= 1 && reads <= 8, "imports during the storm: \(reads)")
            #expect(try await visible(world, "m-1", hidden))

            // Renewal before expiry: a new channel, then the old one stopped; notifications keep working.
            try await eventually("a renewed channel", timeout: .seconds(40), context: processes.logs + world.allLogs) {
                let channels = world.sandbox.pushChannels().filter { $0.email == account.email }
                return channels.count == 1 && channels[0].id != first.id
            }
            #expect(try await post(url, headers: [("X-Goog-Channel-ID", first.id), ("X-Goog-Resource-State", "exists")]) == 200)
            let late = busyEvent("After renewal", hours: 50)
            world.sandbox.insertEvent(.google, email: account.email, calendarID: account.primaryCalendarID, late)
            try await eventually("a change after renewal", timeout: .seconds(10)) { try await visible(world, "m-1", late) }

            // Disconnect stops the channel.
            try await world.enqueue("disconnect_calendar", #"{"member_id":"m-1","actor_member_id":"m-1","provider":"google"}"#)
            try await eventually("channels stopped", timeout: .seconds(15), context: world.allLogs) {
                world.sandbox.pushChannels().allSatisfy { $0.email != account.email }
            }
            // The channels are stopped at the provider first, then the connection's push is set off.
            try await eventually("push off after the disconnect", timeout: .seconds(10), context: world.allLogs) {
                try await push(world, "m-1", .google)?.status == "off"
            }
        }
    }

    @Test("Microsoft: validation of both URLs, clientState per item, duplicates coalesced, PATCH renewal, lifecycle events, and disconnect")
    func microsoft() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-2")
            let processes = try PushProcesses(
                world: world, extra: ["CALSYNC_PUSH_CHANNEL_TTL_SECONDS": "70", "CALSYNC_PUSH_RENEW_BEFORE_SECONDS": "55"])
            defer { processes.stop() }
            var duplicates = SandboxPushFaults()
            duplicates.graphDuplicates = 4
            world.sandbox.setPushFaults(duplicates)
            let account = try await world.connect("m-2", provider: .microsoft)
            try await eventually("push active", timeout: .seconds(20), context: processes.logs + world.allLogs) {
                try await push(world, "m-2", .microsoft)?.status == "active"
            }
            #expect(world.sandbox.pushDeliveries().filter { $0.kind == "validation" && $0.status == 200 }.count >= 2)
            let first = try #require(world.sandbox.pushChannels().first { $0.email == account.email })
            try await world.idle()

            let meeting = busyEvent("Meeting", hours: 4)
            world.sandbox.insertEvent(.microsoft, email: account.email, calendarID: account.primaryCalendarID, meeting)
            try await eventually("the change by push", timeout: .seconds(10), context: processes.logs + world.allLogs) {
                try await visible(world, "m-2", meeting)
            }

            // A forged clientState changes nothing (after the duplicates of the last change and their import).
            try await Task.sleep(for: .seconds(1))
            try await world.idle()
            var lost = SandboxPushFaults()
            lost.dropProbability = 1
            world.sandbox.setPushFaults(lost)
            let hidden = busyEvent("Unseen", hours: 6)
            world.sandbox.insertEvent(.microsoft, email: account.email, calendarID: account.primaryCalendarID, hidden)
            let forged = #"{"value":[{"subscriptionId":"\#(first.id)","clientState":"forged","changeType":"updated"}]}"#
            #expect(try await post("http://127.0.0.1:\(processes.port)/webhooks/microsoft", body: forged) == 202)
            try await Task.sleep(for: .seconds(2))
            #expect(try await !visible(world, "m-2", hidden))

            // `missed` imports; then duplicates of 20 changes cost a handful of imports.
            world.sandbox.setPushFaults(duplicates)
            world.sandbox.sendLifecycleEvent(subscriptionID: first.id, event: "missed")
            try await eventually("missed → import", timeout: .seconds(10), context: processes.logs) { try await visible(world, "m-2", hidden) }
            try await world.idle()
            let before = importReads(world, account)
            for index in 0..<20 {
                world.sandbox.insertEvent(
                    .microsoft, email: account.email, calendarID: account.primaryCalendarID, busyEvent("Storm \(index)", hours: 20 + Double(index)))
                try await Task.sleep(for: .milliseconds(20))
            }
            let last = busyEvent("Storm 19", hours: 39)
            try await eventually("the storm's last change", timeout: .seconds(15)) { try await visible(world, "m-2", last) }
            try await world.idle()
            let reads = importReads(world, account) - before
            #expect(reads >= 1 && reads <= 10, "delta reads during the storm: \(reads)")

            // Renewal is a PATCH of the same subscription.
            try await eventually("a renewed subscription", timeout: .seconds(40), context: processes.logs + world.allLogs) {
                let subs = world.sandbox.pushChannels().filter { $0.email == account.email }
                return subs.count == 1 && subs[0].id == first.id && subs[0].expiration > first.expiration + 1
            }

            // subscriptionRemoved: created again, and the change imported.
            world.sandbox.sendLifecycleEvent(subscriptionID: first.id, event: "subscriptionRemoved")
            try await eventually("a new subscription", timeout: .seconds(20), context: processes.logs + world.allLogs) {
                world.sandbox.pushChannels().contains { $0.email == account.email && $0.id != first.id }
            }

            try await world.enqueue("disconnect_calendar", #"{"member_id":"m-2","actor_member_id":"m-2","provider":"microsoft"}"#)
            try await eventually("subscription deleted", timeout: .seconds(15), context: world.allLogs) {
                world.sandbox.pushChannels().allSatisfy { $0.email != account.email }
            }
            // The subscription is deleted at the provider first, then the connection's push is set off.
            try await eventually("push off after the disconnect", timeout: .seconds(10), context: world.allLogs) {
                try await push(world, "m-2", .microsoft)?.status == "off"
            }
        }
    }

    @Test("fallback: when the subscription cannot be validated, push is unavailable with a detail and polling keeps the normal interval")
    func fallback() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-3")
            // Nothing listens at the public URL: Graph's validation request fails.
            let closed = try PrivateServers.freePort()
            let processes = try PushProcesses(world: world, publicURL: "http://127.0.0.1:\(closed)")
            defer { processes.stop() }
            _ = try await world.connect("m-3", provider: .microsoft)
            try await eventually("push unavailable", timeout: .seconds(30), context: processes.logs + world.allLogs) {
                try await push(world, "m-3", .microsoft)?.status == "unavailable"
            }
            let row = try #require(try await push(world, "m-3", .microsoft))
            #expect(row.detail?.contains("polling") == true)
            #expect(row.expiresAt == nil)
            // Polling at the normal interval (3600 s here), not the push safety net (21 600 s).
            if let next = row.nextImportAt { #expect(next < Date().addingTimeInterval(3600 * 1.2)) }
        }
    }
}
