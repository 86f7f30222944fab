import AsyncHTTPClient
import CalsyncGoogle
import CalsyncHTTP
import CalsyncMicrosoft
import CalsyncSandbox
import CalsyncSync
import Foundation
import Logging
import CalsyncTestSupport
import Testing

/// One provider client wired to a running sandbox, plus a connected account.
struct ProviderHarness: Sendable {
    let sandbox: Sandbox
    let endpoints: SandboxEndpoints
    let kind: SandboxProvider
    let provider: any CalendarProvider
    let account: SandboxAccount
    let credentials: ProviderCredentials

    var email: String { account.email }
    var calendarID: String { account.primaryCalendarID }
}

enum ProviderTests {
    static let logger = Logger(label: "calsync.tests.providers")
    static let redirectURI = "https://app.example.test/oauth/callback"

    /// Makes the client of `kind` against the sandbox endpoints.
    static func makeProvider(
        _ kind: SandboxProvider, sandbox: Sandbox, endpoints: SandboxEndpoints, http: HTTPTransport.Configuration = .init(requestTimeout: .seconds(20)),
        pageSize: Int? = nil
    ) -> any CalendarProvider {
        let config = sandbox.configuration
        switch kind {
        case .google:
            var c = GoogleCalendarProvider.Configuration(
                apiBaseURL: endpoints.googleAPI, tokenURL: endpoints.googleToken,
                clientID: config.googleClientID, clientSecret: config.googleClientSecret, http: http)
            if let pageSize { c.pageSize = pageSize }
            return GoogleCalendarProvider(httpClient: .shared, configuration: c, logger: logger)
        case .microsoft:
            var c = MicrosoftCalendarProvider.Configuration(
                graphBaseURL: endpoints.graph, tokenURL: endpoints.microsoftToken,
                clientID: config.microsoftClientID, clientSecret: config.microsoftClientSecret, http: http)
            if let pageSize { c.pageSize = pageSize }
            return MicrosoftCalendarProvider(httpClient: .shared, configuration: c, logger: logger)
        }
    }

    /// Starts a sandbox, connects one account of `kind` through the real code exchange, runs `body`.
    static func withHarness<T: Sendable>(
        _ kind: SandboxProvider,
        timeZone: String = "UTC",
        configure: (inout SandboxConfiguration) -> Void = { _ in },
        http: HTTPTransport.Configuration = .init(requestTimeout: .seconds(20)),
        pageSize: Int? = nil,
        _ body: (ProviderHarness) async throws -> T
    ) async throws -> T {
        var configuration = SandboxConfiguration()
        configure(&configuration)
        let sandbox = Sandbox(configuration: configuration)
        return try await withSandboxServer(sandbox) { endpoints in
            let email = "\(TestEnvironment.uniqueName("member"))@example.test"
            let account = sandbox.createAccount(kind, email: email, timeZone: timeZone)
            let provider = makeProvider(kind, sandbox: sandbox, endpoints: endpoints, http: http, pageSize: pageSize)
            let code = sandbox.issueAuthorizationCode(kind, email: email, redirectURI: redirectURI)
            let credentials = try await provider.exchangeCode(code, redirectURI: redirectURI)
            let harness = ProviderHarness(
                sandbox: sandbox, endpoints: endpoints, kind: kind, provider: provider, account: account, credentials: credentials)
            return try await body(harness)
        }
    }

    /// A rendered test event at `start` lasting `minutes`.
    static func rendered(_ key: ExportKey, title: String = "Haircut", start: Date, minutes: Int = 60, details: EventDetails = .private) -> RenderedEvent {
        let appointment = AppointmentSnapshot(
            id: key.appointmentID, revision: 1, status: "confirmed", countsAsBusy: true, startsAt: start,
            endsAt: start.addingTimeInterval(Double(minutes * 60)), timeZone: "Europe/Berlin", serviceName: title,
            customerName: "Ada Lovelace", customerEmail: "ada@example.test", notes: "Allergic to lavender", location: "Room 2")
        return EventRenderer.render(appointment, details: details, key: key)
    }

    /// A whole hour in the near future (UTC), offset by `hours`.
    static func hour(_ hours: Int) -> Date {
        let base = (Date().timeIntervalSince1970 / 3600).rounded(.down) * 3600
        return Date(timeIntervalSince1970: base + Double(hours) * 3600)
    }

    /// A window from a day ago to 30 days ahead.
    static var window: DateInterval { DateInterval(start: hour(-24), end: hour(24 * 30)) }

    /// Runs `operation` and returns the ProviderError it throws (fails the test when it succeeds or throws something else).
    static func providerError<T>(_ operation: () async throws -> T, sourceLocation: SourceLocation = #_sourceLocation) async -> ProviderError? {
        do {
            _ = try await operation()
            Issue.record("expected a ProviderError, got success", sourceLocation: sourceLocation)
            return nil
        } catch let error as ProviderError {
            return error
        } catch {
            Issue.record("expected a ProviderError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// The live (not deleted) events the sandbox holds for the harness's primary calendar.
    static func liveEvents(_ h: ProviderHarness) -> [SandboxStoredEvent] {
        h.sandbox.events(h.kind, email: h.email, calendarID: h.calendarID).filter { !$0.deleted }
    }
}
