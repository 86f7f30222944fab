import CalsyncQueue
import CalsyncRedis
import CalsyncSandbox
import CalsyncSync
import Foundation
import Testing

/// The rules of contract §2–§4, end to end: real Redis, real PostgreSQL, the sandbox, the real `calsync worker`.
@Suite("Sync end to end")
struct SyncEndToEndTests {
    /// Google and Microsoft run the same export rules.
    static let providers: [SandboxProvider] = [.google, .microsoft]

    @Test("connect, export, move, cancel: one event that follows the appointment", arguments: providers)
    func exportLifecycle(provider: SandboxProvider) async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try world.startWorker()
            let account = try await world.connect("m-1", provider: provider)
            let row = try #require(try await world.connection("m-1", provider))
            #expect(row.exportCalendarID == account.primaryCalendarID)
            #expect(row.accountEmail == account.email)
            #expect(row.syncDirection == "both")

            try await world.export("m-1", "a-1", revision: 1)
            try await world.idle()
            var events = world.providerEvents(account)
            try #require(events.count == 1, "\(world.allLogs)")
            #expect(events[0].event.start == instant("\(TestDay.d(0))T10:00:00Z"))
            #expect(events[0].event.summary.contains("Haircut"))
            #expect(!events[0].json.contains("Ada Customer"), "private is the default: no customer data")

            try await world.export("m-1", "a-1", revision: 2, start: "\(TestDay.d(0))T12:00:00Z", end: "\(TestDay.d(0))T13:30:00Z")
            try await world.idle()
            events = world.providerEvents(account)
            #expect(events.count == 1)
            #expect(events.first?.event.start == instant("\(TestDay.d(0))T12:00:00Z"))
            #expect(events.first?.event.end == instant("\(TestDay.d(0))T13:30:00Z"))

            try await world.export("m-1", "a-1", revision: 3, status: "cancelled", start: "\(TestDay.d(0))T12:00:00Z", end: "\(TestDay.d(0))T13:30:00Z")
            try await world.idle()
            #expect(world.providerEvents(account).isEmpty)
            let after = try #require(try await world.connection("m-1", provider))
            #expect(after.lastOutboundSyncAt != nil && after.lastOutboundError == nil)
        }
    }

    @Test("a reassigned appointment leaves the old member's calendar and reaches the new one's")
    func reassignedAppointment() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try await world.member("m-2")
            try world.startWorker()
            let old = try await world.connect("m-1")
            let new = try await world.connect("m-2")
            try await world.export("m-1", "a-1", revision: 1)
            try await world.idle()
            #expect(world.providerEvents(old).count == 1)
            // The web tier moves the appointment to m-2 at revision 2: a delete for m-1, an export for m-2.
            try await world.enqueue("delete_external_event", #"{"member_id":"m-1","appointment_id":"a-1","revision":2}"#)
            try await world.export("m-2", "a-1", revision: 2)
            try await world.idle()
            #expect(world.providerEvents(old).isEmpty)
            #expect(world.providerEvents(new).count == 1)
            // A late, older export for m-1 does nothing.
            try await world.export("m-1", "a-1", revision: 1)
            try await world.idle()
            #expect(world.providerEvents(old).isEmpty)
        }
    }

    @Test("kill -9 mid-export, another worker takes over: exactly one event", arguments: providers)
    func crashMidExport(provider: SandboxProvider) async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            let first = try world.startWorker()
            let account = try await world.connect("m-1", provider: provider)
            // The provider holds the create for 2 s, then applies it even though the worker is gone by then:
            // the event exists, and the worker never learnt its id.
            var fault = SandboxFault(kind: .hang(milliseconds: 2000))
            fault.method = "POST"
            fault.pathContains = "/events"
            fault.remaining = 1
            _ = world.sandbox.addFault(fault)
            world.sandbox.clearRequests()
            try await world.export("m-1", "a-1", revision: 1)
            try await eventually("the export to be claimed", timeout: .seconds(10)) {
                try await world.redis.send(["ZCARD", "\(world.prefix):leases"]).int == 1
            }
            try await Task.sleep(for: .milliseconds(300))
            #expect(world.providerEvents(account).isEmpty, "the create is still held")
            await first.kill9()
            try await eventually("the held create to be applied", timeout: .seconds(10)) {
                world.providerEvents(account).count == 1
            }
            try world.startWorker()
            try await world.idle(timeout: .seconds(30))
            #expect(world.providerEvents(account).count == 1, "\(world.allLogs)")
            let creates = world.sandbox.requests().filter { $0.method == "POST" && $0.path.hasSuffix("/events") }
            #expect(creates.count >= 2, "the second worker created again and found the first event")
            let row = try #require(try await world.connection("m-1", provider))
            #expect(row.lastOutboundError == nil)
        }
    }

    @Test("sync toggled off: parked, no provider call, busy hidden, credentials kept; toggled on: replayed once", arguments: providers)
    func toggleOffAndOn(provider: SandboxProvider) async throws {
        try await eligibilityRoundTrip(provider) { world in
            try await world.organization(enabled: false)
        } restore: { world in
            try await world.organization(enabled: true)
        }
    }

    func eligibilityRoundTrip(
        _ provider: SandboxProvider,
        disable: @escaping @Sendable (SyncWorld) async throws -> Void,
        restore: @escaping @Sendable (SyncWorld) async throws -> Void
    ) async throws {
        try await SyncWorld.withConnectedMember(provider) { world, account in
            world.sandbox.insertEvent(
                provider, email: account.email, calendarID: account.primaryCalendarID,
                SandboxEvent(summary: "Dentist", start: Date().addingTimeInterval(3600), end: Date().addingTimeInterval(7200)))
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.idle()
            #expect(try await world.visibleBusy("m-1").count == 1)

            try await disable(world)
            world.sandbox.clearRequests()
            let future = Date().addingTimeInterval(86_400)
            let start = future.formatted(.iso8601)
            let end = future.addingTimeInterval(3600).formatted(.iso8601)
            try await world.export("m-1", "a-1", revision: 1, start: start, end: end)
            try await world.export("m-1", "a-1", revision: 2, start: start, end: end, extra: #","location":"Room 2""#)
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.enqueue("refresh_token", #"{"member_id":"m-1","provider":"\#(provider.rawValue)","force":true}"#)
            try await world.idle()
            #expect(world.providerRequests(account).isEmpty, "no provider call while ineligible")
            #expect(try await world.visibleBusy("m-1").isEmpty)
            #expect(try await world.storedBlocks("m-1") == 1, "blocks are kept, only hidden")
            #expect(try await world.connection("m-1", provider)?.hasCredentials == true)
            #expect(world.providerEvents(account).allSatisfy { $0.event.summary == "Dentist" }, "nothing exported")

            try await restore(world)
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.idle()
            try await world.idle()
            let events = world.providerEvents(account).filter { $0.event.summary != "Dentist" }
            #expect(events.count == 1, "the parked export is replayed once")
            #expect(world.providerWrites(account).filter { $0.method == "POST" }.count == 1)
            #expect(try await world.visibleBusy("m-1").count == 1)
        }
    }

    @Test("invalid_grant: reconnect required with words to act on; a reconnect replays the parked export without a duplicate", arguments: providers)
    func reconnectAfterInvalidGrant(provider: SandboxProvider) async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try world.startWorker()
            let account = try await world.connect("m-1", provider: provider)
            let connectionID = try #require(try await world.connection("m-1", provider)?.id)
            try await world.export("m-1", "a-1", revision: 1)
            try await world.idle()
            #expect(world.providerEvents(account).count == 1)

            world.sandbox.revokeRefreshTokens(provider, email: account.email)
            world.sandbox.expireAccessTokens(provider, email: account.email)
            try await world.export("m-1", "a-1", revision: 2, start: "\(TestDay.d(0))T15:00:00Z", end: "\(TestDay.d(0))T16:00:00Z")
            try await world.idle()
            let broken = try #require(try await world.connection("m-1", provider))
            #expect(broken.status == "reconnect_required")
            #expect(broken.statusDetail?.localizedCaseInsensitiveContains("reconnect") == true, "\(broken.statusDetail ?? "nil")")
            #expect(try await world.lifecycleEvents().contains { $0["type"] == "connection.reconnect_required" && $0["member_id"] == "m-1" })
            world.sandbox.clearRequests()
            try await world.export("m-1", "a-1", revision: 3, start: "\(TestDay.d(0))T17:00:00Z", end: "\(TestDay.d(0))T18:00:00Z")
            try await world.idle()
            #expect(world.providerRequests(account).isEmpty, "no calls while reconnect is required")

            try await world.reconnect("m-1", provider: provider, email: account.email)
            try await world.idle()
            let renewed = try #require(try await world.connection("m-1", provider))
            #expect(renewed.id == connectionID, "a reconnect updates the row in place")
            let events = world.providerEvents(account)
            #expect(events.count == 1, "no duplicate after the reconnect")
            #expect(events.first?.event.start == instant("\(TestDay.d(0))T17:00:00Z"), "the latest parked revision was exported")
        }
    }

    @Test("disconnect: the exported event stays, busy blocks go, later exports make no call", arguments: providers)
    func disconnect(provider: SandboxProvider) async throws {
        try await SyncWorld.withConnectedMember(provider) { world, account in
            world.sandbox.insertEvent(
                provider, email: account.email, calendarID: account.primaryCalendarID,
                SandboxEvent(summary: "Gym", start: Date().addingTimeInterval(3600), end: Date().addingTimeInterval(7200)))
            try await world.export("m-1", "a-1", revision: 1)
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.idle()
            #expect(try await world.visibleBusy("m-1").count == 1)

            try await world.enqueue("disconnect_calendar", #"{"member_id":"m-1","actor_member_id":"m-1","provider":"\#(provider.rawValue)"}"#)
            try await world.idle()
            let row = try #require(try await world.connection("m-1", provider))
            #expect(row.status == "disconnected" && !row.hasCredentials)
            #expect(try await world.storedBlocks("m-1") == 0)
            #expect(world.providerEvents(account).contains { $0.event.summary.contains("Haircut") }, "the exported event stays")

            world.sandbox.clearRequests()
            try await world.export("m-1", "a-1", revision: 2, status: "cancelled")
            try await world.export("m-1", "a-2", revision: 1)
            try await world.idle()
            #expect(world.providerRequests(account).isEmpty)
        }
    }

    @Test("a permanent refusal: dead-lettered with the HTTP status, an error a person can read, and sync.failed")
    func permanentProviderError() async throws {
        try await SyncWorld.withConnectedMember { world, account in
            let forbidden = #"{"error":{"code":403,"message":"The user is not the organizer.","errors":[{"domain":"calendar","reason":"forbiddenForNonOrganizer","message":"The user is not the organizer."}]}}"#
            var fault = SandboxFault(kind: .status(403, body: forbidden))
            fault.method = "POST"
            fault.pathContains = "/events"
            _ = world.sandbox.addFault(fault)
            let id = try await world.enqueue(
                "export_appointment",
                #"{"member_id":"m-1","appointment":{"id":"a-1","revision":1,"status":"confirmed","counts_as_busy":true,"starts_at":"\#(TestDay.d(0))T10:00:00Z","ends_at":"\#(TestDay.d(0))T11:00:00Z"}}"#)
            try await world.idle()
            let record = try #require(try await world.queue.deadShow(id: id), "\(world.allLogs)")
            #expect(record.httpStatus == 403)
            #expect(record.reason == "provider_refused")
            let row = try #require(try await world.connection("m-1", .google))
            #expect(row.lastOutboundError?.contains("Google") == true, "\(row.lastOutboundError ?? "nil")")
            #expect(try await world.lifecycleEvents().contains { $0["type"] == "sync.failed" && $0["member_id"] == "m-1" })
            #expect(world.providerEvents(account).isEmpty)
        }
    }

    @Test("busy blocks belong to one member; declined, free, cancelled and own events are not busy")
    func importRulesAndIsolation() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try await world.member("m-2")
            try world.startWorker()
            let a = try await world.connect("m-1")
            let b = try await world.connect("m-2")
            let now = Date()
            func event(_ title: String, hours: Double, _ change: (inout SandboxEvent) -> Void = { _ in }) -> SandboxEvent {
                var event = SandboxEvent(summary: title, start: now.addingTimeInterval(hours * 3600), end: now.addingTimeInterval(hours * 3600 + 1800))
                change(&event)
                return event
            }
            for item in [
                event("busy", hours: 1),
                event("free", hours: 2) { $0.free = true },
                event("cancelled", hours: 3) { $0.cancelled = true },
                event("declined", hours: 4) { $0.declinedBySelf = true },
                event("working location", hours: 5) { $0.eventType = "workingLocation" },
                event("out of office", hours: 6) { $0.eventType = "outOfOffice" },
            ] {
                world.sandbox.insertEvent(.google, email: a.email, calendarID: a.primaryCalendarID, item)
            }
            world.sandbox.insertEvent(.google, email: b.email, calendarID: b.primaryCalendarID, event("b's meeting", hours: 10))
            // m-1's own exported appointment is in its calendar too, and must not come back as busy time.
            let start = now.addingTimeInterval(20 * 3600).formatted(.iso8601)
            let end = now.addingTimeInterval(21 * 3600).formatted(.iso8601)
            try await world.export("m-1", "a-1", revision: 1, start: start, end: end)
            try await world.idle()
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.enqueue("import_window", #"{"member_id":"m-2"}"#)
            try await world.idle()
            let mine = try await world.visibleBusy("m-1")
            #expect(mine.count == 2, "busy + out of office only: \(mine)")
            #expect(mine.first?.start == now.addingTimeInterval(3600).roundedToSeconds)
            let theirs = try await world.visibleBusy("m-2")
            #expect(theirs.count == 1)
            #expect(theirs.first?.start == now.addingTimeInterval(36_000).roundedToSeconds)
            let row = try #require(try await world.connection("m-1", .google))
            #expect(row.lastInboundSyncAt != nil && row.lastInboundError == nil)
        }
    }

    @Test("incremental import: a moved and a deleted event follow; an expired cursor rebuilds from a full read", arguments: providers)
    func incrementalImport(provider: SandboxProvider) async throws {
        try await SyncWorld.withConnectedMember(provider) { world, account in
            let now = Date()
            let moving = world.sandbox.insertEvent(
                provider, email: account.email, calendarID: account.primaryCalendarID,
                SandboxEvent(summary: "one", start: now.addingTimeInterval(3600), end: now.addingTimeInterval(5400)))
            let going = world.sandbox.insertEvent(
                provider, email: account.email, calendarID: account.primaryCalendarID,
                SandboxEvent(summary: "two", start: now.addingTimeInterval(7200), end: now.addingTimeInterval(9000)))
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.idle()
            #expect(try await world.visibleBusy("m-1").count == 2)

            world.sandbox.updateEvent(provider, email: account.email, calendarID: account.primaryCalendarID, eventID: moving) {
                $0.start = now.addingTimeInterval(10_800)
                $0.end = now.addingTimeInterval(12_600)
            }
            world.sandbox.deleteEvent(provider, email: account.email, calendarID: account.primaryCalendarID, eventID: going)
            world.sandbox.clearRequests()
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.idle()
            let reads = world.providerRequests(account).filter { $0.method == "GET" }
            let cursorParameter = provider == .google ? "syncToken" : "deltatoken"
            #expect(!reads.isEmpty && reads.allSatisfy { $0.query?.contains(cursorParameter) == true }, "an incremental read: \(reads.map { $0.query ?? "" })")
            var busy = try await world.visibleBusy("m-1")
            #expect(busy.map(\.start) == [now.addingTimeInterval(10_800).roundedToSeconds])

            world.sandbox.invalidateSyncTokens(provider, email: account.email)
            world.sandbox.insertEvent(
                provider, email: account.email, calendarID: account.primaryCalendarID,
                SandboxEvent(summary: "three", start: now.addingTimeInterval(14_400), end: now.addingTimeInterval(16_200)))
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.idle()
            busy = try await world.visibleBusy("m-1")
            #expect(busy.count == 2, "rebuilt from a full read after the 410")
        }
    }

    @Test("all-day events span the member's own midnights, east and west of UTC", arguments: providers, [
        ("Asia/Tokyo", "\(TestDay.d(3))T15:00:00Z", "\(TestDay.d(4))T15:00:00Z"),
        ("America/Los_Angeles", "\(TestDay.d(4))T08:00:00Z", "\(TestDay.d(5))T08:00:00Z"),
    ])
    func allDayEvents(provider: SandboxProvider, zone: (String, String, String)) async throws {
        let (zone, start, end) = zone
        try await SyncWorld.withConnectedMember(provider, timeZone: zone) { world, account in
            var event = SandboxEvent(summary: "Holiday", start: instant(start), end: instant(end))
            event.allDayStart = "\(TestDay.d(4))"
            event.allDayEnd = "\(TestDay.d(5))"
            world.sandbox.insertEvent(provider, email: account.email, calendarID: account.primaryCalendarID, event)
            try await world.enqueue(
                "import_window",
                #"{"member_id":"m-1","window_start":"\#(TestDay.d(0))T00:00:00Z","window_end":"\#(TestDay.d(9))T00:00:00Z"}"#)
            try await world.idle()
            let busy = try await world.visibleBusy("m-1")
            #expect(busy == [DateInterval(start: instant(start), end: instant(end))])
        }
    }

    @Test("Microsoft: free, working elsewhere, cancelled and declined events are not busy; tentative is")
    func microsoftImportRules() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try world.startWorker()
            let account = try await world.connect("m-1", provider: .microsoft)
            let now = Date()
            let changes: [(inout SandboxEvent) -> Void] = [
                { (e: inout SandboxEvent) in e.showAs = "busy" },
                { (e: inout SandboxEvent) in e.showAs = "tentative" },
                { (e: inout SandboxEvent) in e.showAs = "free" },
                { (e: inout SandboxEvent) in e.showAs = "workingElsewhere" },
                { (e: inout SandboxEvent) in e.cancelled = true },
                { (e: inout SandboxEvent) in e.declinedBySelf = true },
            ]
            for (index, change) in changes.enumerated() {
                var event = SandboxEvent(
                    summary: "e\(index)", start: now.addingTimeInterval(Double(index + 1) * 3600),
                    end: now.addingTimeInterval(Double(index + 1) * 3600 + 1800))
                change(&event)
                world.sandbox.insertEvent(.microsoft, email: account.email, calendarID: account.primaryCalendarID, event)
            }
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.idle()
            #expect(try await world.visibleBusy("m-1").count == 2)
        }
    }

    @Test("no token, code, secret or password in logs, Redis, dead records or error columns")
    func noSecretsAnywhere() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try await world.member("m-2")
            try world.startWorker()
            let google = try await world.connect("m-1")
            let microsoft = try await world.connect("m-2", provider: .microsoft)
            // Rotation (Microsoft), forced refresh (Google), exports and an import.
            try await world.enqueue("refresh_token", #"{"member_id":"m-2","provider":"microsoft","force":true}"#)
            try await world.enqueue("refresh_token", #"{"member_id":"m-1","provider":"google","force":true}"#)
            try await world.export("m-1", "a-1", revision: 1)
            try await world.export("m-2", "a-2", revision: 1)
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.idle()
            var secrets: [String] = world.issuedCodes + ["sandbox-google-secret", "sandbox-microsoft-secret", world.keyBase64]
            for (member, provider) in [("m-1", SandboxProvider.google), ("m-2", .microsoft)] {
                let credentials = try #require(try await world.storedCredentials(member, provider))
                secrets.append(credentials.accessToken)
                if let refresh = credentials.refreshToken { secrets.append(refresh) }
            }
            // A failing refresh and a dead connect job with a code and a password.
            world.sandbox.revokeRefreshTokens(.microsoft, email: microsoft.email)
            try await world.enqueue("refresh_token", #"{"member_id":"m-2","provider":"microsoft","force":true}"#)
            try await world.enqueue(
                "connect_calendar",
                #"{"member_id":"m-1","actor_member_id":"m-2","provider":"caldav","server_url":"https://dav.test/","username":"u","password":"pw-\#(UUID().uuidString)"}"#)
            let code = world.sandbox.issueAuthorizationCode(.google, email: google.email, redirectURI: SyncWorld.redirectURI)
            secrets.append(code)
            try await world.enqueue(
                "connect_calendar",
                #"{"member_id":"m-1","actor_member_id":"m-2","provider":"google","authorization_code":"\#(code)","redirect_uri":"\#(SyncWorld.redirectURI)"}"#)
            try await world.idle()
            #expect(try await world.connection("m-2", .microsoft)?.status == "reconnect_required")
            let dead = try await world.queue.deadList(type: nil, limit: 100)
            #expect(dead.count == 2)
            let deadText = dead.map { "\($0.raw) \($0.error ?? "")" }.joined(separator: "\n")
            #expect(!deadText.contains("pw-"))
            let places = [
                ("worker logs", world.allLogs), ("Redis", try await world.redisDump()), ("dead records", deadText),
                ("database columns", try await world.databaseText()),
            ]
            for (place, text) in places {
                for secret in secrets where secret.count >= 8 {
                    #expect(!text.contains(secret), "a secret (\(secret.prefix(4))…) appears in \(place)")
                }
            }
            #expect(world.allLogs.contains("calendar connected"), "the logs were captured")
        }
    }
}

extension SyncWorld {
    /// A world with an eligible organization, member `m-1` connected to a new Google account, and one worker.
    static func withConnectedMember(
        _ provider: SandboxProvider = .google, timeZone: String = "UTC",
        _ body: @escaping @Sendable (SyncWorld, SandboxAccount) async throws -> Void
    ) async throws {
        try await with { world in
            try await world.organization()
            try await world.member("m-1", timeZone: timeZone)
            try world.startWorker()
            try await body(world, try await world.connect("m-1", provider: provider))
        }
    }
}

extension Date {
    /// Whole seconds (what the sandbox and the database keep of test times).
    var roundedToSeconds: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
