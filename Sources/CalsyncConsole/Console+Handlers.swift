import CalsyncJobs
import CalsyncQueue
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import Logging
import NIOPosix

extension Console {
    // MARK: - Login

    /// The sign-in form.
    struct LoginForm: Decodable {
        var csrf: String?
        var `operator`: String?
        var password: String?
    }

    /// The login form, with a fresh double-submit token in a cookie and a hidden field.
    func loginPage(_ request: Request, problem: String?, status: HTTPResponse.Status = .ok) -> Response {
        let token = ConsoleSessions.randomToken()
        var values: [String: Any] = ["title": "Sign in", "loginToken": token]
        if let problem { values["problem"] = problem }
        var response = html("login", values, status: status)
        response.setCookie(cookie(Self.loginCookie, token, maxAge: 3600, request: request))
        return response
    }

    /// Whether an operator name is usable in events and logs: 1–64 letters, digits, spaces and `.-_@`.
    static func isValidOperatorName(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.allSatisfy { $0.isLetter || $0.isNumber || " .-_@".contains($0) }
    }

    /// Checks the login's token, rate limit and lockout, then the password (bcrypt, off the event loops).
    func login(_ request: Request) async throws -> Response {
        do {
            let form = try await Self.form(request, as: LoginForm.self)
            guard let token = form?.csrf, let expected = request.cookies[Self.loginCookie]?.value,
                ConsoleSessions.sameToken(token, expected)
            else {
                return loginPage(request, problem: "The sign-in form expired or its CSRF token is missing; try again.", status: .forbidden)
            }
            let name = (form?.operator ?? "").trimmingCharacters(in: .whitespaces)
            guard Self.isValidOperatorName(name) else {
                return loginPage(request, problem: "Give your name (1–64 letters, digits, spaces, . - _ @).", status: .badRequest)
            }
            switch try await loginGuard.admit(name) {
            case .rateLimited:
                return loginPage(request, problem: "Too many sign-in attempts this minute; wait a minute.", status: .tooManyRequests)
            case .lockedOut(let seconds):
                return loginPage(
                    request, problem: "Sign-in under this name is locked after too many wrong passwords; try again in \(seconds) s.",
                    status: .tooManyRequests)
            case nil:
                break
            }
            let password = form?.password ?? ""
            let hash = passwordHash
            let good = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
            guard good else {
                let locked = try await loginGuard.failed(name)
                logger.notice("console sign-in failed", metadata: ["operator": "\(name)", "locked": "\(locked)"])
                return loginPage(
                    request,
                    problem: locked
                        ? "Wrong password. Sign-in under this name is now locked for \(configuration.lockout.components.seconds) s."
                        : "Wrong password.",
                    status: locked ? .tooManyRequests : .unauthorized)
            }
            try await loginGuard.succeeded(name)
            let (cookieValue, session) = try await sessions.create(operatorName: name)
            await record(session, "login", "signed in")
            var response = Response.redirect(to: "/", type: .normal)
            response.setCookie(
                cookie(Self.sessionCookie, cookieValue, maxAge: Int(configuration.sessionLifetime.components.seconds), request: request))
            response.setCookie(cookie(Self.loginCookie, "", maxAge: 0, request: request))
            return response
        } catch {
            return unavailable(error)
        }
    }

    /// Ends the session.
    func logout(_ request: Request) async throws -> Response {
        if let (cookieValue, session) = try await session(request) {
            try await sessions.delete(cookieValue)
            await record(session, "logout", "signed out")
        }
        var response = Response.redirect(to: "/login", type: .normal)
        response.setCookie(cookie(Self.sessionCookie, "", maxAge: 0, request: request))
        return response
    }

    // MARK: - Overview and workers

    /// The overview's values: queue stats, dead per type, oldest ages, completions, workers' in-flight jobs.
    func overviewValues() async throws -> [String: Any] {
        async let stats = queue.stats(knownTypes: jobTypes)
        async let deadByType = queue.deadCountsByType()
        async let workers = queue.liveWorkers()
        async let done = queue.completions(minutes: 5)
        let snapshot = try await stats
        let types = Set(jobTypes).union(snapshot.ready.keys).sorted()
        let oldest = try await queue.oldestReadyAges(types: types)
        return ConsolePages.overview(
            stats: snapshot, jobTypes: jobTypes, deadByType: try await deadByType, oldest: oldest, done: try await done,
            workers: try await workers)
    }

    /// The overview page.
    func overviewPage(_ session: ConsoleSession) async throws -> Response {
        var values = base(session, title: "Overview", nav: "navOverview")
        for (key, value) in try await overviewValues() { values[key] = value }
        values["refreshSeconds"] = configuration.refreshInterval.components.seconds
        return html("overview", values)
    }

    /// The overview's table alone (what the page's script fetches); 401 without a session.
    func overviewTable(_ request: Request) async throws -> Response {
        do {
            guard try await session(request) != nil else {
                return Response(status: .unauthorized, headers: Self.pageHeaders())
            }
            return html("overviewTable", try await overviewValues())
        } catch {
            return unavailable(error)
        }
    }

    /// The workers page: every live heartbeat.
    func workersPage(_ session: ConsoleSession) async throws -> Response {
        var values = base(session, title: "Workers", nav: "navWorkers")
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        values["workers"] = try await queue.liveWorkers().map { ConsolePages.worker($0, nowMs: now) }
        return html("workers", values)
    }

    // MARK: - Dead jobs

    /// The dead-jobs pages' query string.
    struct DeadQuery: Decodable {
        var type: String?
        var reason: String?
        var q: String?
        var after: String?
        var id: String?
        var notice: String?
        var n: Int?
    }

    /// Adds the notice of a finished action, if the query names one.
    func notice(_ values: inout [String: Any], _ query: DeadQuery) {
        if let text = Self.noticeText(query.notice, count: query.n ?? 0) { values["notice"] = text }
    }

    /// The dead-jobs list: one page from the query's cursor and filter.
    func deadPage(_ session: ConsoleSession, request: Request) async throws -> Response {
        let query = Self.query(request, as: DeadQuery.self, empty: DeadQuery())
        let filter = DeadFilter(type: query.type, reason: query.reason, text: query.q)
        let cursor = query.after.flatMap { DeadCursor($0) }
        async let page = queue.deadPage(filter: filter, after: cursor, limit: configuration.pageSize)
        async let total = queue.deadTotal()
        async let counts = queue.deadCountsByType()
        let result = try await page
        var values = base(session, title: "Dead jobs", nav: "navDead")
        notice(&values, query)
        values["records"] = result.records.map(ConsolePages.dead)
        values["total"] = try await total
        let types = Set(jobTypes).union(try await counts.keys).union(filter.type.map { [$0] } ?? []).sorted()
        values["typeOptions"] = types.map { ["value": $0, "selected": $0 == filter.type] as [String: Any] }
        values["reasonOptions"] = ConsolePages.commonReasons.map { ["value": $0] }
        values["type"] = filter.type ?? ""
        values["reason"] = filter.reason ?? ""
        values["text"] = filter.text ?? ""
        let filterPairs: [(String, String?)] = [("type", filter.type), ("reason", filter.reason), ("q", filter.text)]
        values["back"] = "/dead" + ConsolePages.query(filterPairs + [("after", cursor?.description)])
        if let next = result.next { values["nextLink"] = "/dead" + ConsolePages.query(filterPairs + [("after", next.description)]) }
        if cursor != nil { values["firstLink"] = "/dead" + ConsolePages.query(filterPairs) }
        if result.budgetReached {
            values["budgetReached"] = true
            values["scanned"] = result.scanned
        }
        return html("dead", values)
    }

    /// One dead job.
    func deadShowPage(_ session: ConsoleSession, request: Request) async throws -> Response {
        let query = Self.query(request, as: DeadQuery.self, empty: DeadQuery())
        guard let id = query.id, !id.isEmpty, let record = try await queue.deadShow(id: id) else {
            throw ConsoleError(code: .notFound, message: "No dead job with that id (it may have been retried or purged).")
        }
        var values = base(session, title: "Dead job", nav: "navDead")
        values["record"] = ConsolePages.dead(record)
        return html("deadShow", values)
    }

    /// Retries or purges one dead job, then back to the list.
    func deadOne(_ session: ConsoleSession, _ form: ActionForm, retry: Bool) async throws -> Response {
        guard let id = form.id, !id.isEmpty else { throw ConsoleError(code: .badRequest, message: "Which dead job? The form has no id.") }
        let done = try await act(on: [id], retry: retry)
        await record(session, retry ? "dead.retry" : "dead.purge", "id=\(SafeText.line(id, limit: 200)) done=\(done)")
        return Self.back("/dead", fallback: "/dead", notice: done == 0 ? "gone" : (retry ? "retried" : "purged"), count: done)
    }

    /// Retries or purges the selected dead jobs.
    func deadSelected(_ session: ConsoleSession, _ form: ActionForm) async throws -> Response {
        let retry = form.action == "retry"
        guard retry || form.action == "purge" else { throw ConsoleError(code: .badRequest, message: "Retry or purge?") }
        let ids = Array(Set(form.ids ?? [])).sorted()
        let done = try await act(on: ids, retry: retry)
        await record(session, retry ? "dead.retry_selected" : "dead.purge_selected", "selected=\(ids.count) done=\(done)")
        return Self.back(form.back, fallback: "/dead", notice: retry ? "retried" : "purged", count: done)
    }

    /// Retries or purges every dead job the filter matches.
    func deadMatching(_ session: ConsoleSession, _ form: ActionForm) async throws -> Response {
        let retry = form.action == "retry"
        guard retry || form.action == "purge" else { throw ConsoleError(code: .badRequest, message: "Retry or purge?") }
        let filter = DeadFilter(type: form.type, reason: form.reason, text: form.q)
        let done: Int
        if filter.reason == nil, filter.text == nil, retry {
            done = try await queue.deadRetryAll(type: filter.type)
        } else if filter.isEmpty {
            done = try await queue.deadPurgeAll(olderThan: nil)
        } else {
            done = try await act(on: try await queue.deadMatchingIDs(filter: filter), retry: retry)
        }
        let detail = "filter type=\(filter.type ?? "*") reason=\(filter.reason ?? "*") text=\(SafeText.line(filter.text ?? "*", limit: 100)) done=\(done)"
        await record(session, retry ? "dead.retry_matching" : "dead.purge_matching", detail)
        let back = "/dead" + ConsolePages.query([("type", filter.type), ("reason", filter.reason), ("q", filter.text)])
        return Self.back(back, fallback: "/dead", notice: retry ? "retried" : "purged", count: done)
    }

    /// Retries or purges each id; returns how many were there. A record without a type cannot be retried: skipped.
    func act(on ids: [String], retry: Bool) async throws -> Int {
        var done = 0
        for id in ids where !id.isEmpty {
            if retry {
                do {
                    if try await queue.deadRetry(id: id) { done += 1 }
                } catch let error as QueueError where error.code == .notRetryable {
                    continue
                }
            } else if try await queue.deadPurge(id: id) {
                done += 1
            }
        }
        return done
    }

    // MARK: - Connections

    /// The connections pages' query string.
    struct ConnectionQuery: Decodable {
        var q: String?
        var status: String?
        var id: String?
        var notice: String?
        var n: Int?
    }

    /// The connections list: search by member or email, filter by status.
    func connectionsPage(_ session: ConsoleSession, request: Request) async throws -> Response {
        let query = Self.query(request, as: ConnectionQuery.self, empty: ConnectionQuery())
        let search = (query.q ?? "").trimmingCharacters(in: .whitespaces)
        let status = query.status ?? ""
        var values = base(session, title: "Connections", nav: "navConnections")
        values["connections"] = try await connections.search(search, status: status).map(ConsolePages.connection)
        values["search"] = search
        values["statusOptions"] = ["active", "reconnect_required", "disconnected"].map {
            ["value": $0, "selected": $0 == status] as [String: Any]
        }
        return html("connections", values)
    }

    /// One connection.
    func connectionShowPage(_ session: ConsoleSession, request: Request) async throws -> Response {
        let query = Self.query(request, as: ConnectionQuery.self, empty: ConnectionQuery())
        guard let id = query.id, let connection = try await connections.find(id: id) else {
            throw ConsoleError(code: .notFound, message: "No connection with that id.")
        }
        var values = base(session, title: "Connection", nav: "navConnections")
        if let text = Self.noticeText(query.notice, count: query.n ?? 0) { values["notice"] = text }
        values["c"] = ConsolePages.connection(connection)
        return html("connectionShow", values)
    }

    /// Enqueues a full resync (`import_window`, `full_resync: true`) or a forced `refresh_token` for a connection.
    func connectionJob(_ session: ConsoleSession, _ form: ActionForm, refresh: Bool) async throws -> Response {
        guard let id = form.id, let connection = try await connections.find(id: id),
            let member = connection["member_id"], let provider = connection["provider"]
        else { throw ConsoleError(code: .badRequest, message: "No connection with that id.") }
        let type = refresh ? "refresh_token" : "import_window"
        var payload: [String: AnyEncodable] = ["member_id": .string(member), "provider": .string(provider)]
        if refresh { payload["force"] = .bool(true) } else { payload["full_resync"] = .bool(true) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let jobID = try await queue.enqueue(type: type, payload: String(decoding: try encoder.encode(payload), as: UTF8.self))
        await record(
            session, refresh ? "connection.refresh_token" : "connection.resync",
            "connection=\(id) member_id=\(member) provider=\(provider) job=\(jobID)")
        return Self.back(
            "/connections/show" + ConsolePages.query([("id", id)]), fallback: "/connections", notice: refresh ? "refresh" : "resync",
            count: 1)
    }

    /// A JSON value of a job payload the console builds.
    enum AnyEncodable: Encodable {
        case string(String)
        case bool(Bool)

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let value): try container.encode(value)
            case .bool(let value): try container.encode(value)
            }
        }
    }
}
