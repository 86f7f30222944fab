import Synchronization
import Hummingbird

extension GoogleAPI {
    /// Adds the Calendar v3 endpoints under `/google/calendar/v3`; a path or method not listed here gets
    /// Google's 404 `notFound` from the gate.
    static func addRoutes(to router: Router<SandboxRequestContext>, sandbox: Sandbox) {
        let api = router.group(RouterPath(SandboxService.Mount.googleAPI))
        api.get("users/me/calendarList", use: endpoint(sandbox) { _, _, account, _ in calendarList(account) })
        api.get(
            "users/me/calendarList/:calendarID",
            use: endpoint(sandbox) { _, _, account, parameters in
                guard let calendar = resolveCalendar(account, parameters.decoded("calendarID")) else { return notFound() }
                return .json(200, calendarListEntry(calendar, account: account))
            })
        api.post("freeBusy", use: endpoint(sandbox) { _, request, account, _ in freeBusy(request, account: account) })
        api.get("calendars/:calendarID", use: calendarEndpoint(sandbox) { _, _, account, calendar, _ in
            calendarResource(calendar, account: account)
        })
        api.get("calendars/:calendarID/events", use: calendarEndpoint(sandbox) { s, request, account, calendar, _ in
            list(&s, request, account: account, calendar: calendar)
        })
        api.post("calendars/:calendarID/events", use: calendarEndpoint(sandbox) { s, request, account, calendar, _ in
            insert(&s, request, account: account, calendar: calendar)
        })
        // Every method: the event must exist and `If-Match` hold before a wrong method is refused.
        api.onEveryMethod("calendars/:calendarID/events/:eventID", use: calendarEndpoint(sandbox) { s, request, account, calendar, parameters in
            event(&s, request, account: account, calendar: calendar, eventID: parameters.decoded("eventID"))
        })
    }

    /// A route answered under the state lock for the account the gate authenticated.
    static func endpoint(
        _ sandbox: Sandbox,
        _ answer: @escaping @Sendable (inout SandboxState, APIRequest, AccountState, Parameters) -> APIResponse
    ) -> @Sendable (Request, SandboxRequestContext) async throws -> APIResponse {
        { _, context in
            sandbox.state.withLock { s in
                guard let email = context.account, let account = s.account(.google, email) else { return notFound() }
                return answer(&s, context.api, account, context.parameters)
            }
        }
    }

    /// A route under `calendars/{calendarId}`: an unknown calendar is 404 `notFound`.
    static func calendarEndpoint(
        _ sandbox: Sandbox,
        _ answer: @escaping @Sendable (inout SandboxState, APIRequest, AccountState, CalendarState, Parameters) -> APIResponse
    ) -> @Sendable (Request, SandboxRequestContext) async throws -> APIResponse {
        endpoint(sandbox) { s, request, account, parameters in
            guard let calendar = resolveCalendar(account, parameters.decoded("calendarID")) else { return notFound() }
            return answer(&s, request, account, calendar, parameters)
        }
    }
}
