import CalsyncHTTP
import CalsyncSandbox
import CalsyncSync
import Foundation
import Testing

/// Rules every provider client must keep, run against both emulated providers.
@Suite("Provider contract (Google and Microsoft against the sandbox)")
struct ProviderContractTests {
    static let both: [SandboxProvider] = [.google, .microsoft]

    /// A fixed window in late November 2026 (UTC).
    static let november = DateInterval(
        start: ProviderTime.parseDateTime("2026-11-20T00:00:00Z") ?? Date(),
        end: ProviderTime.parseDateTime("2026-12-01T00:00:00Z") ?? Date())

    static func at(_ text: String) -> Date { ProviderTime.parseDateTime(text) ?? Date(timeIntervalSince1970: 0) }

    static func seeded(_ summary: String, _ start: String, minutes: Int = 60, _ change: (inout SandboxEvent) -> Void = { _ in }) -> SandboxEvent {
        var e = SandboxEvent(summary: summary, start: at(start), end: at(start).addingTimeInterval(Double(minutes * 60)))
        change(&e)
        return e
    }

    @Test(arguments: both)
    func exchangeGivesEmailTokensAndTheRealPrimaryCalendar(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind) { h in
            #expect(h.credentials.accountEmail == h.email)
            #expect(h.credentials.refreshToken != nil)
            #expect(h.credentials.expiresAt > Date())
            #expect(!h.credentials.description.contains(h.credentials.accessToken))
            let second = h.sandbox.addCalendar(kind, email: h.email, name: "Team")
            let calendars = try await h.provider.listCalendars(h.credentials)
            let primary = try #require(calendars.first { $0.isPrimary })
            #expect(primary.id == h.calendarID)
            #expect(primary.id != "primary")
            #expect(calendars.filter(\.isPrimary).count == 1)
            #expect(calendars.contains { $0.id == second && $0.name == "Team" && !$0.isPrimary })
        }
    }

    @Test(arguments: both)
    func sameKeyExportedTwiceMakesOneEvent(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind) { h in
            let key = ExportKey(memberID: "m1", appointmentID: "apt-dup")
            let event = ProviderTests.rendered(key, start: Self.at("2026-11-23T14:00:00Z"))
            let first = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            var moved = event
            moved.start = Self.at("2026-11-23T15:00:00Z")
            moved.end = Self.at("2026-11-23T16:00:00Z")
            let second = try await h.provider.upsertEvent(moved, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            #expect(first == second)
            let live = ProviderTests.liveEvents(h)
            #expect(live.count == 1)
            #expect(live.first?.event.start == moved.start)
            #expect(live.first?.event.summary == "Haircut")
            // An update through the known id changes it in place.
            var renamed = moved
            renamed.title = "Colour"
            let third = try await h.provider.upsertEvent(renamed, key: key, calendarID: h.calendarID, knownEventID: first, credentials: h.credentials)
            #expect(third == first)
            #expect(ProviderTests.liveEvents(h).map(\.event.summary) == ["Colour"])
        }
    }

    @Test(arguments: both)
    func exportsCarryThePrivateMarkerAndPrivacy(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind) { h in
            let key = ExportKey(memberID: "m1", appointmentID: "apt-marker")
            let event = ProviderTests.rendered(key, start: Self.at("2026-11-24T09:00:00Z"), details: .private)
            let id = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            let stored = try #require(ProviderTests.liveEvents(h).first)
            #expect(stored.id == id)
            switch kind {
            case .google:
                #expect(id == key.googleEventID)
                #expect(stored.event.privateProperties[ExportMarker.propertyName] == key.markerValue)
                #expect(stored.json.contains("\"private\""))
            case .microsoft:
                #expect(stored.event.privateProperties[ExportMarker.graphPropertyID] == key.markerValue)
                #expect(stored.json.contains(key.graphTransactionID))
            }
            #expect(!stored.json.contains("Ada Lovelace"))
            #expect(!stored.json.contains("lavender"))
        }
    }

    @Test(arguments: both)
    func createRetriedAfterATimeoutMakesOneEvent(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind) { h in
            let key = ExportKey(memberID: "m1", appointmentID: "apt-timeout")
            let event = ProviderTests.rendered(key, start: Self.at("2026-11-25T10:00:00Z"))
            _ = h.sandbox.addFault(SandboxFault(.dropAfterProcessing, provider: kind, pathContains: "/events", method: "POST", remaining: 1))
            h.sandbox.clearRequests()
            var id: String?
            do {
                id = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
                #expect(kind == .microsoft, "Graph recovers in place by finding the event; Google leaves the retry to the caller")
            } catch let error as ProviderError {
                #expect(kind == .google)
                #expect(error.isRetryable)
            }
            if id == nil {
                id = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            }
            let live = ProviderTests.liveEvents(h)
            #expect(live.count == 1)
            #expect(live.first?.id == id)
            if kind == .microsoft {
                // After an unknown outcome Graph is never POSTed blindly again.
                #expect(h.sandbox.requests().filter { $0.method == "POST" && $0.path.hasSuffix("/events") }.count == 1)
            }
        }
    }

    @Test(arguments: both)
    func deleteThenReexportMakesOneEventAndMissingDeletesSucceed(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind) { h in
            let key = ExportKey(memberID: "m1", appointmentID: "apt-undelete")
            let event = ProviderTests.rendered(key, start: Self.at("2026-11-26T10:00:00Z"))
            let id = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            try await h.provider.deleteEvent(key: key, calendarID: h.calendarID, knownEventID: id, credentials: h.credentials)
            #expect(ProviderTests.liveEvents(h).isEmpty)
            // Deleting again (Google 410, Graph 404) and deleting what never existed both succeed.
            try await h.provider.deleteEvent(key: key, calendarID: h.calendarID, knownEventID: id, credentials: h.credentials)
            let never = ExportKey(memberID: "m1", appointmentID: "never-exported")
            try await h.provider.deleteEvent(key: never, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            // Re-export with and without the old id: one live event.
            let again = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: id, credentials: h.credentials)
            let once = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            #expect(again == once)
            let live = ProviderTests.liveEvents(h)
            #expect(live.count == 1)
            #expect(live.first?.id == again)
            if kind == .google { #expect(again == id, "Google undeletes the same id") }
            // Delete by key alone (id unknown) also works.
            try await h.provider.deleteEvent(key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            #expect(ProviderTests.liveEvents(h).isEmpty)
        }
    }

    @Test(arguments: both)
    func freeCancelledDeclinedAndOwnEventsAreNotBusy(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind) { h in
            let insert = { (e: SandboxEvent) -> String in h.sandbox.insertEvent(kind, email: h.email, calendarID: h.calendarID, e) }
            let busy = insert(Self.seeded("busy", "2026-11-23T09:00:00Z"))
            _ = insert(Self.seeded("free", "2026-11-23T10:00:00Z") { $0.free = true })
            _ = insert(Self.seeded("cancelled", "2026-11-23T11:00:00Z") { $0.cancelled = true })
            _ = insert(Self.seeded("declined", "2026-11-23T12:00:00Z") { $0.declinedBySelf = true })
            var expected: Set<String> = [busy]
            switch kind {
            case .google:
                _ = insert(Self.seeded("working location", "2026-11-23T13:00:00Z") { $0.eventType = "workingLocation" })
                expected.insert(insert(Self.seeded("out of office", "2026-11-23T14:00:00Z") { $0.eventType = "outOfOffice" }))
                _ = insert(Self.seeded("seeded own", "2026-11-23T15:00:00Z") { $0.privateProperties = [ExportMarker.propertyName: "x"] })
            case .microsoft:
                _ = insert(Self.seeded("elsewhere", "2026-11-23T13:00:00Z") { $0.showAs = "workingElsewhere" })
                expected.insert(insert(Self.seeded("tentative", "2026-11-23T14:00:00Z") { $0.showAs = "tentative" }))
                expected.insert(insert(Self.seeded("oof", "2026-11-23T15:00:00Z") { $0.showAs = "oof" }))
            }
            // An event calsync exported itself is never imported back.
            let key = ExportKey(memberID: "m1", appointmentID: "apt-own")
            _ = try await h.provider.upsertEvent(
                ProviderTests.rendered(key, start: Self.at("2026-11-23T16:00:00Z")), key: key, calendarID: h.calendarID,
                knownEventID: nil, credentials: h.credentials)
            let snapshot = try await h.provider.readBusy(
                calendarID: h.calendarID, window: Self.november, memberTimeZone: .gmt, credentials: h.credentials)
            #expect(Set(snapshot.events.map(\.externalEventID)) == expected)
            #expect(snapshot.cursor != nil)
            let first = try #require(snapshot.events.first { $0.externalEventID == busy })
            #expect(first.start == Self.at("2026-11-23T09:00:00Z"))
            #expect(first.end == Self.at("2026-11-23T10:00:00Z"))
            #expect(!first.isAllDay)
            #expect(first.calendarID == h.calendarID)
        }
    }

    @Test(arguments: both)
    func allDayEventsSpanTheMembersMidnightEastAndWestOfUTC(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind) { h in
            var e = Self.seeded("holiday", "2026-11-23T00:00:00Z", minutes: 24 * 60)
            e.allDayStart = "2026-11-23"
            e.allDayEnd = "2026-11-24"
            let id = h.sandbox.insertEvent(kind, email: h.email, calendarID: h.calendarID, e)
            for (zone, start, end) in [
                ("Asia/Tokyo", "2026-11-22T15:00:00Z", "2026-11-23T15:00:00Z"),
                ("America/Los_Angeles", "2026-11-23T08:00:00Z", "2026-11-24T08:00:00Z"),
                ("UTC", "2026-11-23T00:00:00Z", "2026-11-24T00:00:00Z"),
            ] {
                let snapshot = try await h.provider.readBusy(
                    calendarID: h.calendarID, window: Self.november, memberTimeZone: try #require(TimeZone(identifier: zone)),
                    credentials: h.credentials)
                let event = try #require(snapshot.events.first { $0.externalEventID == id }, "\(zone)")
                #expect(event.isAllDay, "\(zone)")
                #expect(event.start == Self.at(start), "\(zone)")
                #expect(event.end == Self.at(end), "\(zone)")
            }
        }
    }

    @Test(arguments: both)
    func fullReadPagesToTheEndAndIncrementalSeesChanges(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind, configure: { $0.googleEmptyPageEvery = 2 }, pageSize: 5) { h in
            var ids: [String] = []
            for i in 0..<23 {
                let start = "2026-11-\(23 + i / 12)T\(String(format: "%02d", i % 12 + 8)):00:00Z"
                ids.append(h.sandbox.insertEvent(kind, email: h.email, calendarID: h.calendarID, Self.seeded("e\(i)", start)))
            }
            h.sandbox.clearRequests()
            let snapshot = try await h.provider.readBusy(calendarID: h.calendarID, window: Self.november, memberTimeZone: .gmt, credentials: h.credentials)
            #expect(Set(snapshot.events.map(\.externalEventID)) == Set(ids))
            #expect(snapshot.events.count == 23)
            let cursor = try #require(snapshot.cursor)
            let reads = h.sandbox.requests().filter { $0.method == "GET" && ($0.path.hasSuffix("/events") || $0.path.hasSuffix("/delta")) }
            #expect(reads.count >= 5, "23 events at 5 a page take at least 5 pages")
            if kind == .google {
                #expect(reads.count > 5, "empty pages that still carry a next token are followed")
                for r in reads {
                    let q = r.query ?? ""
                    #expect(q.contains("singleEvents=true"), "\(q)")
                    #expect(q.contains("maxResults=5"), "\(q)")
                }
            }

            // Changes: one new, one made free, one deleted, one declined.
            let added = h.sandbox.insertEvent(kind, email: h.email, calendarID: h.calendarID, Self.seeded("new", "2026-11-27T09:00:00Z"))
            h.sandbox.updateEvent(kind, email: h.email, calendarID: h.calendarID, eventID: ids[0]) { $0.free = true; $0.showAs = "free" }
            h.sandbox.deleteEvent(kind, email: h.email, calendarID: h.calendarID, eventID: ids[1])
            h.sandbox.updateEvent(kind, email: h.email, calendarID: h.calendarID, eventID: ids[2]) { $0.declinedBySelf = true }
            h.sandbox.clearRequests()
            let changes = try await h.provider.readBusyChanges(calendarID: h.calendarID, cursor: cursor, memberTimeZone: .gmt, credentials: h.credentials)
            #expect(changes.upserts.map(\.externalEventID).contains(added))
            #expect(!changes.upserts.map(\.externalEventID).contains(ids[0]))
            #expect(Set(changes.removedEventIDs).isSuperset(of: [ids[0], ids[1], ids[2]]))
            #expect(changes.cursor != nil)
            #expect(changes.cursor != cursor)
            if kind == .google {
                for r in h.sandbox.requests() where r.method == "GET" {
                    let q = r.query ?? ""
                    #expect(q.contains("syncToken="), "\(q)")
                    let forbidden = ["timeMin", "timeMax", "orderBy", "updatedMin"].filter { q.contains($0) }
                    #expect(forbidden.isEmpty, "\(q)")
                }
            }
            // Nothing changed since: an empty change set.
            let quiet = try await h.provider.readBusyChanges(
                calendarID: h.calendarID, cursor: try #require(changes.cursor), memberTimeZone: .gmt, credentials: h.credentials)
            #expect(quiet.upserts.isEmpty)
        }
    }

    @Test(arguments: both)
    func expiredCursorInTheMiddleOfAnIncrementalReadAsksForAFullResync(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind, pageSize: 3) { h in
            var ids: [String] = []
            for i in 0..<9 {
                ids.append(h.sandbox.insertEvent(kind, email: h.email, calendarID: h.calendarID, Self.seeded("e\(i)", "2026-11-24T\(String(format: "%02d", i + 8)):00:00Z")))
            }
            let snapshot = try await h.provider.readBusy(calendarID: h.calendarID, window: Self.november, memberTimeZone: .gmt, credentials: h.credentials)
            let cursor = try #require(snapshot.cursor)
            for id in ids {
                h.sandbox.updateEvent(kind, email: h.email, calendarID: h.calendarID, eventID: id) { $0.summary += " (moved)" }
            }
            // The first page answers normally, the second answers 410.
            let path = kind == .google ? "/events" : "/delta"
            let body = kind == .google
                ? #"{"error":{"code":410,"message":"Sync token is no longer valid, a full sync is required.","errors":[{"domain":"global","reason":"fullSyncRequired","message":"Sync token is no longer valid, a full sync is required."}]}}"#
                : #"{"error":{"code":"SyncStateNotFound","message":"The sync state generation is not found."}}"#
            _ = h.sandbox.addFault(SandboxFault(.latency(milliseconds: 0), provider: kind, pathContains: path, method: "GET", remaining: 1))
            _ = h.sandbox.addFault(SandboxFault(.status(410, body: body), provider: kind, pathContains: path, method: "GET", remaining: 1))
            h.sandbox.clearRequests()
            let error = await ProviderTests.providerError {
                try await h.provider.readBusyChanges(calendarID: h.calendarID, cursor: cursor, memberTimeZone: .gmt, credentials: h.credentials)
            }
            #expect(error?.kind == .fullResyncRequired)
            #expect(error?.httpStatus == 410)
            #expect(h.sandbox.requests().filter { $0.method == "GET" }.map(\.status) == [200, 410])
            h.sandbox.clearFaults()

            // A cursor the provider invalidated: 410 on the first page; a full read then works again.
            h.sandbox.invalidateSyncTokens(kind, email: h.email)
            let again = await ProviderTests.providerError {
                try await h.provider.readBusyChanges(calendarID: h.calendarID, cursor: cursor, memberTimeZone: .gmt, credentials: h.credentials)
            }
            #expect(again?.kind == .fullResyncRequired)
            let fresh = try await h.provider.readBusy(calendarID: h.calendarID, window: Self.november, memberTimeZone: .gmt, credentials: h.credentials)
            #expect(fresh.events.count == 9)
        }
    }

    @Test(arguments: both)
    func revokedGrantAsksForAReconnectAndExpiredAccessAsksForARefresh(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind) { h in
            h.sandbox.expireAccessTokens(kind, email: h.email)
            let expired = await ProviderTests.providerError { try await h.provider.listCalendars(h.credentials) }
            #expect(expired?.kind == .authExpired)
            #expect(expired?.httpStatus == 401)
            let refreshed = try await h.provider.refresh(h.credentials)
            #expect(refreshed.accessToken != h.credentials.accessToken)
            #expect(refreshed.accountEmail == h.email)
            _ = try await h.provider.listCalendars(refreshed)

            h.sandbox.revokeRefreshTokens(kind, email: h.email)
            let revoked = await ProviderTests.providerError { try await h.provider.refresh(refreshed) }
            #expect(revoked?.kind == .reconnectRequired)
            #expect(revoked?.code == .invalidGrant)
            #expect(revoked?.httpStatus == 400)
            let message = revoked?.message ?? ""
            #expect(message.contains("Reconnect"))
            #expect(!message.contains(refreshed.refreshToken ?? "-"))
            #expect(!message.contains(refreshed.accessToken))
        }
    }

    @Test(arguments: both)
    func throttlingIsRetryableWithTheProvidersRetryAfter(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind) { h in
            _ = h.sandbox.addFault(SandboxFault(.status(429, body: nil), provider: kind, pathContains: "/calendar", remaining: 1))
            let throttled = await ProviderTests.providerError { try await h.provider.listCalendars(h.credentials) }
            #expect(throttled?.kind == .retryable(retryAfter: .seconds(1)))
            #expect(throttled?.code == .rateLimited)
            _ = h.sandbox.addFault(SandboxFault(.status(503, body: nil), provider: kind, pathContains: "/calendar", remaining: 1))
            let unavailable = await ProviderTests.providerError { try await h.provider.listCalendars(h.credentials) }
            #expect(unavailable?.isRetryable == true)
            #expect(unavailable?.httpStatus == 503)
            // And the next call goes through.
            _ = try await h.provider.listCalendars(h.credentials)
        }
    }

    @Test(arguments: both)
    func anExpiredAccessTokenIsRefusedAndARefreshedOneWorks(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind) { h in
            h.sandbox.expireAccessTokens(kind, email: h.email)
            let expired = await ProviderTests.providerError { try await h.provider.listCalendars(h.credentials) }
            #expect(expired?.kind == .authExpired)
            let fresh = try await h.provider.refresh(h.credentials)
            #expect(fresh.accessToken != h.credentials.accessToken)
            #expect(fresh.refreshToken != nil)
            #expect(fresh.accountEmail == h.credentials.accountEmail)
            #expect(!(try await h.provider.listCalendars(fresh)).isEmpty)
            // A refusal that a refresh cannot fix says so.
            h.sandbox.revokeRefreshTokens(kind, email: h.email)
            let revoked = await ProviderTests.providerError { try await h.provider.refresh(fresh) }
            #expect(revoked?.kind == .reconnectRequired)
        }
    }
}
