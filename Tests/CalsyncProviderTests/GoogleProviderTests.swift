import AsyncHTTPClient
import CalsyncGoogle
import CalsyncHTTP
import CalsyncSandbox
import CalsyncSync
import Foundation
import Testing

@Suite("Google client specifics")
struct GoogleProviderTests {
    @Test func createUsesTheDeterministicIdAndA409IsPatchedBack() async throws {
        try await ProviderTests.withHarness(.google) { h in
            let key = ExportKey(memberID: "m1", appointmentID: "apt-409")
            let event = ProviderTests.rendered(key, start: ProviderContractTests.at("2026-11-23T14:00:00Z"))
            _ = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            h.sandbox.clearRequests()
            _ = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            let steps = h.sandbox.requests().map { "\($0.method) \($0.status)" }
            #expect(steps == ["POST 409", "GET 200", "PATCH 200"])
            let stored = try #require(ProviderTests.liveEvents(h).first)
            #expect(stored.id == key.googleEventID)
            #expect(stored.json.contains("\"confirmed\""))
        }
    }

    @Test func aDeletedEventIsUndeletedUnderItsId() async throws {
        try await ProviderTests.withHarness(.google) { h in
            let key = ExportKey(memberID: "m1", appointmentID: "apt-undelete-g")
            let event = ProviderTests.rendered(key, start: ProviderContractTests.at("2026-11-23T14:00:00Z"))
            let id = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            // The member deletes it in Google Calendar: it stays stored as cancelled.
            h.sandbox.deleteEvent(.google, email: h.email, calendarID: h.calendarID, eventID: id)
            #expect(ProviderTests.liveEvents(h).isEmpty)
            let again = try await h.provider.upsertEvent(event, key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            #expect(again == id)
            let all = h.sandbox.events(.google, email: h.email, calendarID: h.calendarID, includeDeleted: true)
            #expect(all.count == 1)
            #expect(all.first?.deleted == false)
        }
    }

    @Test func privacyModesReachGoogleAsVisibilityAndFields() async throws {
        try await ProviderTests.withHarness(.google) { h in
            let key = ExportKey(memberID: "m1", appointmentID: "apt-privacy")
            let start = ProviderContractTests.at("2026-11-23T14:00:00Z")
            _ = try await h.provider.upsertEvent(
                ProviderTests.rendered(key, start: start, details: .full), key: key, calendarID: h.calendarID, knownEventID: nil, credentials: h.credentials)
            var stored = try #require(ProviderTests.liveEvents(h).first)
            #expect(stored.json.contains("Ada Lovelace"))
            #expect(stored.json.contains("Room 2"))
            #expect(!stored.json.contains("ada@example.test"))
            // Switching to `.private` clears the customer data that `.full` wrote.
            _ = try await h.provider.upsertEvent(
                ProviderTests.rendered(key, start: start, details: .private), key: key, calendarID: h.calendarID,
                knownEventID: key.googleEventID, credentials: h.credentials)
            stored = try #require(ProviderTests.liveEvents(h).first)
            #expect(!stored.json.contains("Ada Lovelace"))
            #expect(!stored.json.contains("lavender"))
            #expect(stored.json.contains("\"private\""))
        }
    }

    @Test func rateLimitAndQuotaReasonsFromTheSandboxAreRetryable() async throws {
        try await ProviderTests.withHarness(.google) { h in
            _ = h.sandbox.addFault(SandboxFault(.status(403, body: nil), provider: .google, pathContains: "/calendarList", remaining: 1))
            let limited = await ProviderTests.providerError { try await h.provider.listCalendars(h.credentials) }
            #expect(limited?.code == .rateLimited)
            let quota = #"{"error":{"code":403,"message":"Quota","errors":[{"domain":"usageLimits","reason":"quotaExceeded","message":"Quota"}]}}"#
            _ = h.sandbox.addFault(SandboxFault(.status(403, body: quota), provider: .google, pathContains: "/calendarList", remaining: 1))
            let exhausted = await ProviderTests.providerError { try await h.provider.listCalendars(h.credentials) }
            #expect(exhausted?.code == .quotaExceeded)
            #expect((exhausted?.retryAfter ?? .zero) >= .seconds(600))
            let forbidden = #"{"error":{"code":403,"message":"No","errors":[{"domain":"calendar","reason":"forbiddenForNonOrganizer","message":"No"}]}}"#
            _ = h.sandbox.addFault(SandboxFault(.status(403, body: forbidden), provider: .google, pathContains: "/calendarList", remaining: 1))
            let denied = await ProviderTests.providerError { try await h.provider.listCalendars(h.credentials) }
            #expect(denied?.kind == .permanent)
        }
    }

    @Test func aWrongClientSecretIsPermanentNotAReconnect() async throws {
        let sandbox = Sandbox()
        try await withSandboxServer(sandbox) { endpoints in
            let email = "secret@example.test"
            sandbox.createAccount(.google, email: email)
            let provider = GoogleCalendarProvider(
                httpClient: .shared,
                configuration: .init(
                    apiBaseURL: endpoints.googleAPI, tokenURL: endpoints.googleToken, clientID: sandbox.configuration.googleClientID,
                    clientSecret: "wrong-secret"),
                logger: ProviderTests.logger)
            let code = sandbox.issueAuthorizationCode(.google, email: email, redirectURI: ProviderTests.redirectURI)
            let error = await ProviderTests.providerError { try await provider.exchangeCode(code, redirectURI: ProviderTests.redirectURI) }
            #expect(error?.code == .invalidClient)
            #expect(error?.kind == .permanent)
            #expect(error?.message.contains("wrong-secret") == false)
        }
    }
}
