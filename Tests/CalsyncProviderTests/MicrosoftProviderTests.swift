import CalsyncHTTP
import CalsyncMicrosoft
import CalsyncSandbox
import CalsyncSync
import Foundation
import Testing

@Suite("Microsoft Graph client specifics")
struct MicrosoftProviderTests {
    @Test func fiveRefreshesInARowRotateTheRefreshToken() async throws {
        try await ProviderTests.withHarness(.microsoft) { h in
            var current = h.credentials
            var retired: [ProviderCredentials] = []
            for _ in 0..<5 {
                let next = try await h.provider.refresh(current)
                #expect(next.refreshToken != nil)
                #expect(next.refreshToken != current.refreshToken)
                #expect(next.accessToken != current.accessToken)
                _ = try await h.provider.listCalendars(next)  // the new access token works
                retired.append(current)
                current = next
            }
            for old in retired {
                let error = await ProviderTests.providerError { try await h.provider.refresh(old) }
                #expect(error?.kind == .reconnectRequired)
                #expect(error?.httpStatus == 400)
            }
            // The newest one still works after the old ones were refused.
            _ = try await h.provider.refresh(current)
            let tokenRequests = h.sandbox.requests().filter { $0.path.hasSuffix("/token") }
            #expect(tokenRequests.count == 12, "one exchange, five rotations, five refused reuses, one last refresh")
        }
    }

    @Test func tokenRequestsAskForOfflineAccess() {
        let c = MicrosoftCalendarProvider.Configuration(clientID: "c", clientSecret: "s", scope: "https://graph.microsoft.com/Calendars.ReadWrite")
        #expect(c.scope.split(separator: " ").contains("offline_access"))
        #expect(MicrosoftCalendarProvider.Configuration(clientID: "c", clientSecret: "s").scope.contains("offline_access"))
    }

    @Test func anEventDeletedByTheMemberIsCreatedAgainOnce() async throws {
        try await ProviderTests.withHarness(.microsoft) { h in
            let key = ExportKey(memberID: "m1", appointmentID: "apt-gone")
            let event = ProviderTests.rendered(key, start: ProviderContractTests.at("2026-11-23T14:00:00Z"))
            let id = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            h.sandbox.deleteEvent(.microsoft, email: h.email, calendarID: h.calendarID, eventID: id)
            let again = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: id, credentials: h.credentials)
            #expect(again != id)
            #expect(ProviderTests.liveEvents(h).map(\.id) == [again])
            // And a retry of that create (id unknown again) finds it instead of creating another.
            let retry = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            #expect(retry == again)
            #expect(ProviderTests.liveEvents(h).count == 1)
        }
    }

    @Test func aSpentTransactionIdWhoseEventIsNotListedIsRetriedLaterNeverPostedAgain() async throws {
        try await ProviderTests.withHarness(.microsoft) { h in
            let key = ExportKey(memberID: "m1", appointmentID: "apt-lag")
            let event = ProviderTests.rendered(key, start: ProviderContractTests.at("2026-11-23T14:00:00Z"))
            // The create happened, but the marker search does not show it (as when Graph's search lags).
            let id = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            h.sandbox.deleteEvent(.microsoft, email: h.email, calendarID: h.calendarID, eventID: id)
            h.sandbox.clearRequests()
            let error = await ProviderTests.providerError {
                try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            }
            #expect(error?.code == .transactionPending)
            #expect(error?.isRetryable == true)
            #expect(error?.message.contains("retried later") == true)
            let posts = h.sandbox.requests().filter { $0.method == "POST" && $0.path.hasSuffix("/events") }
            #expect(posts.count == 1, "one refused create, no second POST under another id")
            #expect(ProviderTests.liveEvents(h).isEmpty)
        }
    }

    @Test func aNewGenerationCreatesOnceAndItsRetryLandsOnTheSameEvent() async throws {
        try await ProviderTests.withHarness(.microsoft) { h in
            let first = ExportKey(memberID: "m1", appointmentID: "apt-again")
            let event = ProviderTests.rendered(first, start: ProviderContractTests.at("2026-11-23T14:00:00Z"))
            let id = try await h.provider.upsertEvent(event, key: first, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            // calsync deleted it (a cancellation recorded at revision 7); the appointment comes back.
            h.sandbox.deleteEvent(.microsoft, email: h.email, calendarID: h.calendarID, eventID: id)
            let next = ExportKey(memberID: "m1", appointmentID: "apt-again", generation: 7)
            #expect(next.graphTransactionID != first.graphTransactionID)
            #expect(next.markerValue == first.markerValue)
            // Its answer is lost after the create happened (found by marker), and the job dies before
            // recording it: the retry (same generation, id unknown) lands on the same event.
            _ = h.sandbox.addFault(SandboxFault(.dropAfterProcessing, provider: .microsoft, pathContains: "/events", method: "POST", remaining: 1))
            let created = try await h.provider.upsertEvent(event, key: next, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            let again = try await h.provider.upsertEvent(event, key: next, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            #expect(again == created)
            #expect(ProviderTests.liveEvents(h).map(\.id) == [created])
        }
    }

    @Test func aReplacementOfAnEventDeletedInOutlookIsFoundAgainByItsRetry() async throws {
        try await ProviderTests.withHarness(.microsoft) { h in
            let key = ExportKey(memberID: "m1", appointmentID: "apt-replaced")
            let event = ProviderTests.rendered(key, start: ProviderContractTests.at("2026-11-23T14:00:00Z"))
            let id = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            h.sandbox.deleteEvent(.microsoft, email: h.email, calendarID: h.calendarID, eventID: id)
            let replacement = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: id, credentials: h.credentials)
            // The job died before recording it: its retry still knows only the gone id.
            let retry = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: id, credentials: h.credentials)
            #expect(retry == replacement)
            #expect(ProviderTests.liveEvents(h).map(\.id) == [replacement])
        }
    }

    @Test func readsAskForUTCAndPageSizeAndKeepTheWholeDeltaLink() async throws {
        try await ProviderTests.withHarness(.microsoft, pageSize: 4) { h in
            for i in 0..<10 {
                h.sandbox.insertEvent(
                    .microsoft, email: h.email, calendarID: h.calendarID,
                    ProviderContractTests.seeded("e\(i)", "2026-11-24T\(String(format: "%02d", i + 8)):00:00Z"))
            }
            h.sandbox.clearRequests()
            let snapshot = try await h.provider.readBusy(
                calendarID: h.calendarID, window: ProviderContractTests.november, memberTimeZone: .gmt, credentials: h.credentials)
            #expect(snapshot.events.count == 10)
            let pages = h.sandbox.requests().filter { $0.path.hasSuffix("/delta") }
            #expect(pages.count == 3, "10 events at 4 a page")
            let cursor = try #require(snapshot.cursor)
            #expect(cursor.value.hasPrefix(h.endpoints.graph))
            #expect(cursor.value.contains("/delta"))
            let first = try #require(snapshot.events.first)
            #expect(first.start == ProviderContractTests.at("2026-11-24T08:00:00Z"))
            // A delta link to another host is never followed with the bearer token.
            let foreign = SyncCursor("https://evil.example/v1.0/me/calendarView/delta?$deltatoken=x")
            let error = await ProviderTests.providerError {
                try await h.provider.readBusyChanges(calendarID: h.calendarID, cursor: foreign, memberTimeZone: .gmt, credentials: h.credentials)
            }
            #expect(error?.code == .untrustedLink)
        }
    }

    @Test func calendarViewReadsSkipEventsMarkedAsExported() async throws {
        try await ProviderTests.withHarness(.microsoft) { h in
            let busy = h.sandbox.insertEvent(
                .microsoft, email: h.email, calendarID: h.calendarID, ProviderContractTests.seeded("busy", "2026-11-23T09:00:00Z"))
            var own = ProviderContractTests.seeded("marked", "2026-11-23T10:00:00Z")
            own.privateProperties = [ExportMarker.graphPropertyID: "somekey"]
            h.sandbox.insertEvent(.microsoft, email: h.email, calendarID: h.calendarID, own)
            h.sandbox.insertEvent(
                .microsoft, email: h.email, calendarID: h.calendarID, ProviderContractTests.seeded("free", "2026-11-23T11:00:00Z") { $0.showAs = "free" })
            let provider = try #require(h.provider as? MicrosoftCalendarProvider)
            h.sandbox.clearRequests()
            let events = try await provider.readCalendarView(
                calendarID: h.calendarID, window: ProviderContractTests.november, memberTimeZone: .gmt, credentials: h.credentials)
            #expect(events.map(\.externalEventID) == [busy])
            #expect(h.sandbox.requests().allSatisfy { $0.status == 200 })
        }
    }
}
