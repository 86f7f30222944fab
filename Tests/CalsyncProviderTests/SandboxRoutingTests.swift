import NIOHTTP1
import AsyncHTTPClient
import CalsyncSandbox
import Foundation
import Testing

/// What the sandbox answers for a path or method its router does not know: each provider's own answer,
/// after authentication and quotas, and logged; the control API and unknown paths are not logged.
@Suite("Sandbox routing")
struct SandboxRoutingTests {
    typealias S = SandboxTests

    @Test func googleAnswersUnknownPathsAndMethodsWithItsNotFoundAfterAuthentication() async throws {
        try await S.withAccount(.google) { sandbox, e, _, token in
            let unknown = try await S.send(.GET, e.googleAPI + "/nothing/here", bearer: token)
            #expect(unknown.status == 404)
            #expect(unknown.reason == "notFound")
            #expect(try await S.send(.GET, e.googleAPI + "/nothing/here").status == 401)
            #expect(try await S.send(.PUT, e.googleAPI + "/calendars/primary/events", bearer: token).reason == "notFound")
            #expect(try await S.send(.GET, e.googleAPI + "/calendars/nosuchcalendar/events", bearer: token).reason == "notFound")
            #expect(try await S.send(.GET, e.googleAPI + "/calendars/member%40example.test/events", bearer: token).status == 200)
            #expect(sandbox.requests().map(\.status) == [404, 401, 404, 404, 200])
            #expect(sandbox.requests().first?.account == "member@example.test")
        }
    }

    @Test func graphNamesTheSegmentItCannotResolve() async throws {
        try await S.withAccount(.microsoft) { sandbox, e, account, token in
            let unknown = try await S.send(.GET, e.graph + "/me/nothing/here", bearer: token)
            #expect(unknown.status == 400)
            #expect(unknown.text.contains("Resource not found for the segment 'nothing'."))
            let stranger = try await S.send(.GET, e.graph + "/users/someone@example.test/calendars", bearer: token)
            #expect(stranger.text.contains("Resource not found for the segment 'users'."))
            #expect(try await S.send(.GET, e.graph + "/users/\(account.email)/calendars", bearer: token).status == 200)
            let create = try await S.send(.POST, e.graph + "/me/calendars", bearer: token, json: "{}")
            #expect(create.status == 400)
            #expect(create.text.contains("Creating calendars is not emulated."))
            #expect(try await S.send(.DELETE, e.graph + "/me/calendarView", bearer: token).text.contains("Unsupported method."))
            let noCalendar = try await S.send(.GET, e.graph + "/me/calendars/AAMkNoSuchCalendar/events/x/y", bearer: token)
            #expect(noCalendar.status == 404)
            #expect(noCalendar.reason == "ErrorItemNotFound")
            #expect(try await S.send(.GET, e.graph + "/me/calendar/events/x/y", bearer: token).text.contains("segment 'events'"))
            #expect(sandbox.requests().map(\.status) == [400, 400, 200, 400, 400, 404, 400])
        }
    }

    @Test func tokenEndpointsRefuseOtherMethodsAndTheControlAPIAndUnknownPathsAreNotLogged() async throws {
        try await S.withAccount(.google) { sandbox, e, _, _ in
            #expect(try await S.send(.GET, e.googleToken).status == 405)
            let microsoft = try await S.send(.GET, e.microsoftToken)
            #expect(microsoft.status == 400)
            #expect(microsoft.text.contains("AADSTS900561"))
            let control = try await S.send(.GET, e.control + "/nothing")
            #expect(control.status == 404)
            #expect(control.json["error"] as? String == "unknown control endpoint GET /_sandbox/nothing")
            #expect(try await S.send(.GET, e.baseURL + "/nothing").status == 404)
            #expect(try await S.send(.DELETE, e.control + "/faults/fault-1").status == 204)
            #expect(sandbox.requests().map(\.status) == [405, 400])
        }
    }
}
