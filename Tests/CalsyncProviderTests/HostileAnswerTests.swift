import CalsyncHTTP
import CalsyncSandbox
import CalsyncSync
import Foundation
import Testing

/// Hostile provider answers end as classified errors, quickly, without buffering them whole.
@Suite("Hostile provider answers")
struct HostileAnswerTests {
    static let both: [SandboxProvider] = [.google, .microsoft]
    /// Generous for ordinary answers (a loaded 2-core CI box is slow); the slow-answer test uses its own.
    static let http = HTTPTransport.Configuration(requestTimeout: .seconds(10), maxResponseBytes: 8 * 1024 * 1024)

    static func read(_ h: ProviderHarness) async throws -> BusySnapshot {
        try await h.provider.readBusy(calendarID: h.calendarID, window: ProviderContractTests.november, memberTimeZone: .gmt, credentials: h.credentials)
    }

    static func eventsPath(_ kind: SandboxProvider) -> String { kind == .google ? "/events" : "/delta" }

    @Test(arguments: both)
    func aHugeErrorTextWithControlCharactersEndsAsOneShortLine(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind, http: Self.http) { h in
            let hostile = "\u{1b}]0;owned\u{07}\r\nfake log line " + String(repeating: "A", count: 1024 * 1024)
            let escaped = hostile.replacingOccurrences(of: "\u{1b}", with: "\\u001b").replacingOccurrences(of: "\u{07}", with: "\\u0007")
                .replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
            let body = kind == .google
                ? #"{"error":{"code":403,"message":"no","errors":[{"domain":"x","reason":"\#(escaped)"}]}}"#
                : #"{"error":{"code":"\#(escaped)","message":"no"}}"#
            let status = kind == .google ? 403 : 400
            _ = h.sandbox.addFault(SandboxFault(.status(status, body: body), provider: kind, pathContains: Self.eventsPath(kind), remaining: 1))
            let error = await ProviderTests.providerError { try await Self.read(h) }
            let message = try #require(error?.message)
            #expect(message.unicodeScalars.count <= 301, "cut to one short line")
            #expect(!message.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "\(message.prefix(200))")
            #expect(message.contains(#"\u{1b}]0;owned\u{7}\r\nfake"#))
            // A token endpoint's error text is made safe too.
            _ = h.sandbox.addFault(SandboxFault(.status(400, body: #"{"error":"\#(escaped)"}"#), provider: kind, pathContains: "/token", remaining: 1))
            let token = await ProviderTests.providerError { try await h.provider.refresh(h.credentials) }
            #expect(token?.message.unicodeScalars.contains { $0.value < 0x20 } == false)
        }
    }

    @Test(arguments: both)
    func aTokenEndpointRedirectIsRefusedAndTheCredentialsGoNowhereElse(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind, http: Self.http) { h in
            let tokenURL = kind == .google ? h.endpoints.googleToken : h.endpoints.microsoftToken
            // Another host (the same loopback server under another name), which would answer a re-sent refresh.
            let elsewhere = tokenURL.replacingOccurrences(of: "127.0.0.1", with: "localhost")
            for status in [307, 308, 302, 301] {
                h.sandbox.clearRequests()
                _ = h.sandbox.addFault(SandboxFault(.redirect(status, location: elsewhere), provider: kind, pathContains: "/token", remaining: 1))
                let error = await ProviderTests.providerError { try await h.provider.refresh(h.credentials) }
                #expect(error?.code == .tokenRedirect, "HTTP \(status)")
                #expect(error?.kind == .permanent)
                let posts = h.sandbox.requests().filter { $0.path.hasSuffix("/token") && $0.method == "POST" }
                #expect(posts.count == 1, "HTTP \(status): the token form was posted once, to the configured URL only")
            }
            // The credentials still work: nothing was redeemed elsewhere.
            _ = try await h.provider.refresh(h.credentials)
        }
    }

    @Test(arguments: both)
    func malformedJSONIsAClassifiedError(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind, http: Self.http) { h in
            _ = h.sandbox.addFault(SandboxFault(.malformedJSON, provider: kind, pathContains: Self.eventsPath(kind), remaining: 1))
            let error = await ProviderTests.providerError { try await Self.read(h) }
            #expect(error?.code == .malformedResponse)
            #expect(error?.isRetryable == true)
        }
    }

    @Test(arguments: both)
    func missingFieldsAreAClassifiedError(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind, http: Self.http) { h in
            let body = kind == .google ? #"{"items":[{"summary":"no id here"}]}"# : #"{"value":[{"subject":"no id here"}]}"#
            _ = h.sandbox.addFault(SandboxFault(.status(200, body: body), provider: kind, pathContains: Self.eventsPath(kind), remaining: 1))
            let error = await ProviderTests.providerError { try await Self.read(h) }
            #expect(error?.code == .malformedResponse)
            #expect(error?.message.contains("id") == true)
            #expect(error?.message.contains("no id here") == false)
            // A list without its array is refused too (Graph requires `value`).
            if kind == .microsoft {
                _ = h.sandbox.addFault(SandboxFault(.status(200, body: "{}"), provider: kind, pathContains: "/delta", remaining: 1))
                let empty = await ProviderTests.providerError { try await Self.read(h) }
                #expect(empty?.code == .malformedResponse)
            }
        }
    }

    @Test(arguments: both)
    func aTenMegabyteBodyIsRefusedUnread(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind, http: Self.http) { h in
            _ = h.sandbox.addFault(SandboxFault(.hugeBody(bytes: 10 * 1024 * 1024), provider: kind, pathContains: Self.eventsPath(kind), remaining: 1))
            let error = await ProviderTests.providerError { try await Self.read(h) }
            #expect(error?.code == .responseTooLarge)
            // The next read is normal again.
            _ = try await Self.read(h)
        }
    }

    @Test(arguments: both)
    func aSlowAnswerTimesOut(_ kind: SandboxProvider) async throws {
        // 2 s, not less: the harness's own set-up (token exchange, first requests) runs under the same timeout, and a
        // loaded machine once took longer than 0.5 s there.
        try await ProviderTests.withHarness(kind, http: .init(requestTimeout: .seconds(2))) { h in
            _ = h.sandbox.addFault(SandboxFault(.hang(milliseconds: 30000), provider: kind, pathContains: Self.eventsPath(kind), remaining: 1))
            let clock = ContinuousClock()
            let started = clock.now
            let error = await ProviderTests.providerError { try await Self.read(h) }
            #expect(error?.code == .timeout)
            #expect(error?.isRetryable == true)
            #expect(clock.now - started < .seconds(15), "the 30 s hang is cut at the 2 s timeout")
        }
    }

    @Test(arguments: both)
    func aHostileTokenAnswerIsClassified(_ kind: SandboxProvider) async throws {
        try await ProviderTests.withHarness(kind, http: Self.http) { h in
            _ = h.sandbox.addFault(SandboxFault(.malformedJSON, provider: kind, pathContains: "/token", remaining: 1))
            let malformed = await ProviderTests.providerError { try await h.provider.refresh(h.credentials) }
            #expect(malformed?.code == .malformedResponse)
            _ = h.sandbox.addFault(SandboxFault(.status(200, body: #"{"token_type":"Bearer"}"#), provider: kind, pathContains: "/token", remaining: 1))
            let missing = await ProviderTests.providerError { try await h.provider.refresh(h.credentials) }
            #expect(missing?.code == .malformedResponse)
        }
    }
}
