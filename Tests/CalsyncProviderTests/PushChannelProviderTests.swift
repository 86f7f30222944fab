import CalsyncSandbox
import CalsyncSync
import CalsyncTestSupport
import Foundation
import Testing

/// The push calls of the clients against the sandbox, which is as strict as the providers.
@Suite("Push channels: clients against the sandbox")
struct PushChannelProviderTests {
    @Test("Google: watch answers a resource id and expiry; stop needs both; a stopped channel stops again as success")
    func googleWatch() async throws {
        try await ProviderTests.withHarness(.google) { h in
            let push = try #require(h.provider as? any PushChannelProvider)
            let expiry = Date().addingTimeInterval(3600)
            let opened = try await push.openPushChannel(
                channelID: PushSecret.channelID(), calendarID: h.calendarID, address: "https://calsync.example.test/webhooks/google", lifecycleAddress: "",
                secret: "s3cret", expiresAt: expiry, credentials: h.credentials)
            #expect(opened.resourceID?.isEmpty == false)
            #expect(abs(opened.expiresAt.timeIntervalSince(expiry)) < 2)
            #expect(h.sandbox.pushChannels().map(\.id) == [opened.channelID])
            // Google has no renewal call.
            let record = PushChannelRecord(
                channelID: opened.channelID, connectionID: "c", memberID: "m", provider: .google, resourceID: opened.resourceID,
                calendarID: h.calendarID, secretHash: PushSecret.hash("s3cret"), expiresAt: opened.expiresAt)
            #expect(try await push.renewPushChannel(record, expiresAt: expiry, credentials: h.credentials) == nil)
            try await push.stopPushChannel(record, credentials: h.credentials)
            #expect(h.sandbox.pushChannels().isEmpty)
            try await push.stopPushChannel(record, credentials: h.credentials)  // 404: already stopped
            #expect(h.sandbox.requests().filter { $0.path.hasSuffix("/channels/stop") }.map(\.status) == [204, 404])
        }
    }

    @Test("Google: an http address other than loopback is refused, as Google refuses non-https")
    func googleRefusesHTTP() async throws {
        try await ProviderTests.withHarness(.google) { h in
            let push = try #require(h.provider as? any PushChannelProvider)
            await #expect(throws: ProviderError.self) {
                _ = try await push.openPushChannel(
                    channelID: PushSecret.channelID(), calendarID: h.calendarID, address: "http://calsync.example.test/webhooks/google", lifecycleAddress: "",
                    secret: "s", expiresAt: Date().addingTimeInterval(3600), credentials: h.credentials)
            }
            #expect(h.sandbox.pushChannels().isEmpty)
        }
    }

    @Test("Graph: a subscription whose URLs do not answer the validation request is refused; an expired one cannot be renewed")
    func graphValidationAndExpiry() async throws {
        try await ProviderTests.withHarness(.microsoft) { h in
            let push = try #require(h.provider as? any PushChannelProvider)
            let closed = try PrivateServers.freePort()
            do {
                _ = try await push.openPushChannel(
                    channelID: PushSecret.channelID(), calendarID: nil, address: "http://127.0.0.1:\(closed)/webhooks/microsoft",
                    lifecycleAddress: "http://127.0.0.1:\(closed)/webhooks/microsoft/lifecycle", secret: "state",
                    expiresAt: Date().addingTimeInterval(3600), credentials: h.credentials)
                Issue.record("a subscription without validation was created")
            } catch let error as ProviderError {
                #expect(error.httpStatus == 400)
            }
            #expect(h.sandbox.pushChannels().isEmpty)
            // Too far ahead is refused before any validation.
            await #expect(throws: ProviderError.self) {
                _ = try await push.openPushChannel(
                    channelID: PushSecret.channelID(), calendarID: nil, address: "https://calsync.example.test/webhooks/microsoft",
                    lifecycleAddress: "https://calsync.example.test/webhooks/microsoft/lifecycle", secret: "state",
                    expiresAt: Date().addingTimeInterval(30 * 86_400), credentials: h.credentials)
            }
            let missing = PushChannelRecord(
                channelID: "no-such-subscription", connectionID: "c", memberID: "m", provider: .microsoft, resourceID: nil,
                calendarID: nil, secretHash: "", expiresAt: Date())
            await #expect(throws: ProviderError.self) {
                _ = try await push.renewPushChannel(missing, expiresAt: Date().addingTimeInterval(3600), credentials: h.credentials)
            }
            try await push.stopPushChannel(missing, credentials: h.credentials)  // 404 counts as stopped
        }
    }
}
