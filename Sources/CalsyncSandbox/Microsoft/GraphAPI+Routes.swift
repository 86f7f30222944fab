import Synchronization
import Hummingbird

extension GraphAPI {
    /// The calendar a Graph path addresses.
    enum CalendarScope: Sendable {
        /// `/me/events…`: the whole mailbox (creates go to the primary calendar).
        case mailbox
        /// `/me/calendar/…`: the primary calendar.
        case primary
        /// `/me/calendars/{id}/…`: one calendar; an unknown id is 404.
        case byID

        /// The path of the scope under a user path (`me` or `users/:user`).
        func path(under user: String) -> String {
            switch self {
            case .mailbox: user
            case .primary: user + "/calendar"
            case .byID: user + "/calendars/:calendarID"
            }
        }
    }

    /// Adds the Graph endpoints under `/microsoft/v1.0`, for `/me` and `/users/{id or email}` alike; a path
    /// not listed here gets Graph's 400 (or 404 for an unknown calendar) from the gate.
    static func addRoutes(to router: Router<SandboxRequestContext>, sandbox: Sandbox) {
        let graph = router.group(RouterPath(SandboxService.Mount.graph))
        for user in ["me", "users/:user"] {
            graph.onEveryMethod(RouterPath(user), use: endpoint(sandbox) { _, request, account, _ in
                profile(request, account: account)
            })
            graph.onEveryMethod(RouterPath(user + "/calendars"), use: endpoint(sandbox) { _, request, account, _ in
                calendars(request, account: account)
            })
            for scope in [CalendarScope.primary, .byID] {
                graph.onEveryMethod(RouterPath(scope.path(under: user)), use: calendarEndpoint(sandbox, scope) { _, request, account, calendar, _ in
                    calendarResource(request, account: account, calendar: calendar)
                })
            }
            for scope in [CalendarScope.mailbox, .primary, .byID] {
                let base = scope.path(under: user)
                let mailboxWide = scope == .mailbox
                graph.onEveryMethod(RouterPath(base + "/events"), use: calendarEndpoint(sandbox, scope) { s, request, account, calendar, _ in
                    events(&s, request, account: account, calendar: calendar, mailboxWide: mailboxWide)
                })
                graph.onEveryMethod(
                    RouterPath(base + "/events/:eventID"),
                    use: calendarEndpoint(sandbox, scope) { s, request, account, calendar, parameters in
                        event(&s, request, account: account, calendar: calendar, mailboxWide: mailboxWide, eventID: parameters.decoded("eventID"))
                    })
                graph.onEveryMethod(RouterPath(base + "/calendarView"), use: calendarEndpoint(sandbox, scope) { s, request, account, calendar, _ in
                    guard request.method == "GET" else { return badRequest("Unsupported method.") }
                    return calendarView(request, account: account, calendar: calendar, defaultPageSize: s.configuration.graphDefaultPageSize)
                })
                graph.onEveryMethod(RouterPath(base + "/calendarView/delta"), use: calendarEndpoint(sandbox, scope) { s, request, account, calendar, _ in
                    guard request.method == "GET" else { return badRequest("Unsupported method.") }
                    return delta(request, account: account, calendar: calendar, defaultPageSize: s.configuration.graphDefaultPageSize)
                })
            }
        }
    }

    /// A route answered under the state lock for the mailbox the gate authenticated; under
    /// `/users/{id}`, the id must be that mailbox's id or email.
    static func endpoint(
        _ sandbox: Sandbox,
        _ answer: @escaping @Sendable (inout SandboxState, APIRequest, AccountState, Parameters) -> APIResponse
    ) -> @Sendable (Request, SandboxRequestContext) async throws -> APIResponse {
        { _, context in
            sandbox.state.withLock { s in
                guard let email = context.account, let account = s.account(.microsoft, email) else {
                    return errorResponse(SandboxAPIError(401, "InvalidAuthenticationToken", "Access token is empty."))
                }
                if context.parameters.get("user") != nil {
                    let user = context.parameters.decoded("user")
                    guard user.lowercased() == account.email || user == userID(account.email) else {
                        return badRequest("Resource not found for the segment 'users'.")
                    }
                }
                return answer(&s, context.api, account, context.parameters)
            }
        }
    }

    /// A route under a calendar scope: the calendar must exist.
    static func calendarEndpoint(
        _ sandbox: Sandbox, _ scope: CalendarScope,
        _ answer: @escaping @Sendable (inout SandboxState, APIRequest, AccountState, CalendarState, Parameters) -> APIResponse
    ) -> @Sendable (Request, SandboxRequestContext) async throws -> APIResponse {
        endpoint(sandbox) { s, request, account, parameters in
            let calendar = scope == .byID ? account.calendars[parameters.decoded("calendarID")] : account.primary
            guard let calendar else { return notFound() }
            return answer(&s, request, account, calendar, parameters)
        }
    }
}
