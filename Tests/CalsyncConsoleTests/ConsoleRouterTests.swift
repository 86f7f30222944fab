import CalsyncConsole
import CalsyncQueue
import CalsyncRedis
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing

/// The console's routes in process (router test framework) over real Redis and PostgreSQL.
@Suite("Console routes")
struct ConsoleRouterTests {
    @Test("every page and action needs a login")
    func everyPageNeedsLogin() async throws {
        try await ConsoleRig.with { rig in
            try await Application(router: rig.console.makeRouter()).test(.router) { client in
                let browser = FormClient(client)
                for path in ["/", "/workers", "/dead", "/dead/show?id=x", "/connections", "/connections/show?id=x"] {
                    let page = try await browser.request(path)
                    #expect(page.status == .seeOther, "\(path)")
                    #expect(page.location == "/login", "\(path)")
                }
                #expect(try await browser.request("/overview/table").status == .unauthorized)
                let post = try await browser.request("/dead/purge", method: .post, form: [("id", "x")])
                #expect(post.status == .forbidden)
                let login = try await browser.request("/login")
                #expect(login.status == .ok)
                #expect(login.body.contains("id=\"password\""))
            }
        }
    }

    @Test("signing in sets an HttpOnly, SameSite=Strict cookie; Secure behind https")
    func loginCookie() async throws {
        try await ConsoleRig.with { rig in
            try await Application(router: rig.console.makeRouter()).test(.router) { client in
                let browser = FormClient(client)
                let page = try await browser.login()
                #expect(page.status == .seeOther)
                #expect(page.location == "/")
                let session = try #require(page.setCookies.first { $0.hasPrefix("calsync_console=") })
                #expect(session.contains("HttpOnly"))
                #expect(session.contains("SameSite=Strict"))
                #expect(!session.contains("Secure"))
                let overview = try await browser.request("/")
                #expect(overview.status == .ok)
                #expect(overview.body.contains("id=\"queues\""))
                #expect(overview.body.contains("Ada"))
                // Over https (a TLS proxy says so), the cookie is Secure.
                let form = try await browser.request("/login")
                var headers = HTTPFields()
                headers[.cookie] = browser.cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
                headers[.contentType] = "application/x-www-form-urlencoded"
                headers[HTTPField.Name("X-Forwarded-Proto")!] = "https"
                let body = "csrf=\(try #require(form.field("csrf")))&operator=Ada&password=correct+horse+battery"
                let secure = try await client.execute(uri: "/login", method: .post, headers: headers, body: ByteBuffer(string: body))
                #expect(secure.status == .seeOther)
                #expect(secure.headers[values: .setCookie].contains { $0.hasPrefix("calsync_console=") && $0.contains("Secure") })
            }
        }
    }

    @Test("wrong passwords lock the login, even for the right one, until the lockout ends")
    func lockout() async throws {
        try await ConsoleRig.with(configure: { $0.lockoutFailures = 3 }) { rig in
            try await Application(router: rig.console.makeRouter()).test(.router) { client in
                let browser = FormClient(client)
                #expect(try await browser.login(password: "wrong 1").status == .unauthorized)
                #expect(try await browser.login(password: "wrong 2").status == .unauthorized)
                let third = try await browser.login(password: "wrong 3")
                #expect(third.status == .tooManyRequests)
                #expect(third.body.contains("locked"))
                let right = try await browser.login()
                #expect(right.status == .tooManyRequests)
                #expect(browser.cookies["calsync_console"] == nil)
                #expect(try await browser.request("/").status == .seeOther)
                // The lockout ends: the right password works again.
                for key in try await rig.redis.send(["KEYS", "\(rig.prefix):console:login:locked:*"]).array ?? [] {
                    _ = try await rig.redis.send(["DEL", key.string ?? ""])
                }
                #expect(try await browser.login().status == .seeOther)
            }
        }
    }

    @Test("login attempts are rate limited per minute")
    func rateLimit() async throws {
        try await ConsoleRig.with(configure: { $0.loginAttemptsPerMinute = 2; $0.lockoutFailures = 100 }) { rig in
            try await Application(router: rig.console.makeRouter()).test(.router) { client in
                let browser = FormClient(client)
                #expect(try await browser.login(password: "nope").status == .unauthorized)
                #expect(try await browser.login(password: "nope").status == .unauthorized)
                let limited = try await browser.login()
                #expect(limited.status == .tooManyRequests)
                #expect(limited.body.contains("Too many sign-in attempts"))
            }
        }
    }

    @Test("a login form without its CSRF token is refused")
    func loginNeedsToken() async throws {
        try await ConsoleRig.with { rig in
            try await Application(router: rig.console.makeRouter()).test(.router) { client in
                let browser = FormClient(client)
                let page = try await browser.request(
                    "/login", method: .post, form: [("operator", "Ada"), ("password", ConsoleRig.password)])
                #expect(page.status == .forbidden)
                #expect(browser.cookies["calsync_console"] == nil)
            }
        }
    }

    @Test("an action needs the session's CSRF token; done, it is published as ops.action with the operator")
    func csrfAndEvents() async throws {
        try await ConsoleRig.with { rig in
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            try await rig.addDead(id: "job-a", type: "diag_echo", reason: "attempts_exhausted", atMs: now)
            try await Application(router: rig.console.makeRouter()).test(.router) { client in
                let browser = FormClient(client)
                try await browser.login(as: "Grace Hopper")
                let missing = try await browser.request("/dead/purge", method: .post, form: [("id", "job-a")])
                #expect(missing.status == .forbidden)
                #expect(missing.body.contains("CSRF"))
                let wrong = try await browser.request("/dead/purge", method: .post, form: [("csrf", "x" + String(repeating: "y", count: 42)), ("id", "job-a")])
                #expect(wrong.status == .forbidden)
                #expect(try await rig.queue.deadShow(id: "job-a") != nil)

                let dead = try await browser.request("/dead")
                let token = try #require(dead.field("csrf"))
                let done = try await browser.request("/dead/purge", method: .post, form: [("csrf", token), ("id", "job-a")])
                #expect(done.status == .seeOther)
                #expect(try await rig.queue.deadShow(id: "job-a") == nil)
                let after = try await browser.request(try #require(done.location))
                #expect(after.body.contains("Purged 1 dead job(s)."))
            }
            let events = try await rig.redis.send(["XRANGE", "\(rig.prefix):events", "-", "+"]).array ?? []
            let texts = events.map { entry in (entry.array?.last?.array ?? []).compactMap(\.string).joined(separator: " ") }
            #expect(texts.contains { $0.contains("type ops.action") && $0.contains("operator Grace Hopper") && $0.contains("action dead.purge") && $0.contains("id=job-a") })
            #expect(texts.contains { $0.contains("action login") })
            #expect(!texts.contains { $0.contains(ConsoleRig.password) })
        }
    }

    @Test("dead jobs: filter, detail, retry of the selected and of all matching, counts per type")
    func deadJobs() async throws {
        try await ConsoleRig.with { rig in
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            try await rig.addDead(id: "imp-1", type: "import_window", reason: "attempts_exhausted", error: "Google said 503", atMs: now - 3)
            try await rig.addDead(id: "imp-2", type: "import_window", reason: "lease_expired", atMs: now - 2)
            try await rig.addDead(id: "ref-1", type: "refresh_token", reason: "attempts_exhausted", atMs: now - 1)
            try await Application(router: rig.console.makeRouter()).test(.router) { client in
                let browser = FormClient(client)
                try await browser.login()
                let all = try await browser.request("/dead")
                #expect(all.body.contains("3 in all"))
                let byType = try await browser.request("/dead?type=import_window")
                #expect(byType.body.contains("imp-1") && byType.body.contains("imp-2") && !byType.body.contains("ref-1"))
                let byReason = try await browser.request("/dead?reason=attempts_exhausted&q=google+said")
                #expect(byReason.body.contains("imp-1") && !byReason.body.contains("imp-2") && !byReason.body.contains("ref-1"))
                let detail = try await browser.request("/dead/show?id=imp-1")
                #expect(detail.body.contains("Google said 503"))
                #expect(detail.body.contains("id=\"dead-http\">503<"))
                #expect(detail.body.contains("id=\"dead-attempts\">3<"))
                #expect(try await browser.request("/dead/show?id=nope").status == .notFound)

                let overview = try await browser.request("/overview/table")
                #expect(overview.body.contains("<a href=\"/dead?type=import_window\">2</a>"))

                let token = try #require(all.field("csrf"))
                let selected = try await browser.request(
                    "/dead/selected", method: .post, form: [("csrf", token), ("action", "retry"), ("ids[]", "imp-2"), ("ids[]", "ref-1")])
                #expect(selected.status == .seeOther)
                #expect(try await rig.queue.deadShow(id: "imp-2") == nil)
                #expect(try await rig.redis.send(["LLEN", "\(rig.prefix):queue:refresh_token"]).int == 1)
                let matching = try await browser.request(
                    "/dead/matching", method: .post, form: [("csrf", token), ("action", "purge"), ("type", "import_window"), ("q", "google")])
                #expect(matching.status == .seeOther)
                #expect(try await rig.queue.deadTotal() == 0)
                #expect(try await rig.queue.deadCountsByType().isEmpty)
            }
        }
    }

    @Test("the dead detail shows the job as recorded, secret fields redacted by the engine")
    func deadDetailIsRedacted() async throws {
        try await ConsoleRig.with { rig in
            // A job over the size limit is dead-lettered by the claim script, whose fallback redaction runs on its head.
            var configuration = QueueConfiguration(prefix: rig.prefix)
            configuration.maxJobBytes = 4096
            let small = JobQueue(redis: rig.redis, configuration: configuration, logger: rig.logger)
            let padding = String(repeating: "x", count: 5000)
            let job = #"{"id":"job-secret","type":"connect_calendar","payload":{"member_id":"m1","actor_member_id":"m1","provider":"google","authorization_code":"SECRET-CODE-4711","redirect_uri":"https://x","notes":"\#(padding)"}}"#
            try await small.enqueue(raw: Array(job.utf8), type: "connect_calendar")
            _ = try await small.claim(workerID: "test", slots: [("connect_calendar", 1)], total: 1)
            let id = try #require(try await small.deadPage(filter: DeadFilter(), after: nil, limit: 10).records.first?.id)
            try await Application(router: rig.console.makeRouter()).test(.router) { client in
                let browser = FormClient(client)
                try await browser.login()
                for path in ["/dead", "/dead/show?id=\(id)", "/dead?q=SECRET"] {
                    let page = try await browser.request(path)
                    #expect(page.status == .ok)
                    #expect(!page.body.contains("SECRET-CODE-4711"), "\(path)")
                }
                #expect(try await browser.request("/dead/show?id=\(id)").body.contains("[redacted]"))
            }
        }
    }

    @Test("connections: search, filter, detail without credentials, push columns when present, resync and refresh enqueue jobs")
    func connections() async throws {
        try await ConsoleRig.with(migrated: true) { rig in
            try await rig.client.query(
                """
                INSERT INTO organizations (id, plan, external_calendar_sync_enabled) VALUES ('o1', 'pro', true);
                """, logger: rig.logger)
            try await rig.client.query("INSERT INTO members (id, organization_id) VALUES ('m1', 'o1'), ('m2', 'o1')", logger: rig.logger)
            try await rig.client.query(
                """
                INSERT INTO calendar_connections (member_id, provider, account_email, status, status_detail, credentials_sealed,
                    last_inbound_error, rate_limited_until)
                VALUES ('m1', 'google', 'ada@example.com', 'reconnect_required', 'Google refused the refresh token: reconnect',
                    '\\x5345414c45442d534543524554'::bytea, 'invalid_grant', now() + interval '5 minutes')
                """, logger: rig.logger)
            try await rig.client.query(
                "INSERT INTO calendar_connections (member_id, provider, account_email) VALUES ('m2', 'microsoft', 'bob@example.com')",
                logger: rig.logger)
            let id = try await rig.client.query("SELECT id::text FROM calendar_connections WHERE member_id = 'm1'", logger: rig.logger)
                .decode(String.self).first { _ in true } ?? ""
            try await Application(router: rig.console.makeRouter()).test(.router) { client in
                let browser = FormClient(client)
                try await browser.login()
                let all = try await browser.request("/connections")
                #expect(all.body.contains("ada@example.com") && all.body.contains("bob@example.com"))
                #expect(!all.body.contains("SEALED-SECRET") && !all.body.contains("5345414c"))
                let byEmail = try await browser.request("/connections?q=ADA%40example")
                #expect(byEmail.body.contains("ada@example.com") && !byEmail.body.contains("bob@example.com"))
                let byMember = try await browser.request("/connections?q=m2")
                #expect(!byMember.body.contains("ada@example.com") && byMember.body.contains("bob@example.com"))
                let byStatus = try await browser.request("/connections?status=reconnect_required")
                #expect(byStatus.body.contains("ada@example.com") && !byStatus.body.contains("bob@example.com"))
                let detail = try await browser.request("/connections/show?id=\(id)")
                #expect(detail.body.contains("Google refused the refresh token: reconnect"))
                #expect(detail.body.contains("invalid_grant"))
                #expect(detail.body.contains("push_status: off"))

                let token = try #require(detail.field("csrf"))
                let resync = try await browser.request("/connections/resync", method: .post, form: [("csrf", token), ("id", id)])
                #expect(resync.status == .seeOther)
                let refresh = try await browser.request("/connections/refresh-token", method: .post, form: [("csrf", token), ("id", id)])
                #expect(refresh.status == .seeOther)
                let imports = try await rig.redis.send(["LRANGE", "\(rig.prefix):queue:import_window", "0", "-1"]).array?.compactMap(\.string) ?? []
                #expect(imports.count == 1 && imports[0].contains(#""full_resync":true"#) && imports[0].contains(#""member_id":"m1""#))
                let refreshes = try await rig.redis.send(["LRANGE", "\(rig.prefix):queue:refresh_token", "0", "-1"]).array?.compactMap(\.string) ?? []
                #expect(refreshes.count == 1 && refreshes[0].contains(#""force":true"#) && refreshes[0].contains(#""provider":"google""#))
            }
            // The push columns (migration 9) show what the push upkeep recorded.
            try await rig.client.query(
                "UPDATE calendar_connections SET push_status = 'active', push_detail = 'watching 1 calendar'", logger: rig.logger)
            let fresh = try Console(
                configuration: { var c = ConsoleConfiguration(); c.passwordHash = ConsoleRig.hash; return c }(), queue: rig.queue,
                connections: ConnectionsReader(client: rig.client, logger: rig.logger), jobTypes: [], logger: rig.logger)
            try await Application(router: fresh.makeRouter()).test(.router) { client in
                let browser = FormClient(client)
                try await browser.login()
                #expect(try await browser.request("/connections/show?id=\(id)").body.contains("push_status: active"))
            }
        }
    }

    @Test("the console refuses to start without a bcrypt hash")
    func needsHash() throws {
        var configuration = ConsoleConfiguration()
        #expect(throws: ConsoleError.self) { try Console.passwordHash(configuration) }
        configuration.passwordHash = "plain-text"
        #expect(throws: ConsoleError.self) { try Console.passwordHash(configuration) }
        configuration.passwordHash = ConsoleRig.hash
        #expect(try Console.passwordHash(configuration) == ConsoleRig.hash)
    }
}
