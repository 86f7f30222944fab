import AsyncHTTPClient
import CalsyncSandbox
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The sandbox's own strictness, through raw HTTP: it must refuse what the real APIs refuse.
@Suite("Sandbox strictness")
struct SandboxTests {
    struct Raw {
        let status: Int
        let headers: HTTPHeaders
        let text: String

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:] }
        var items: [[String: Any]] { json["items"] as? [[String: Any]] ?? json["value"] as? [[String: Any]] ?? [] }
        /// Google `errors[0].reason` or Graph `error.code`.
        var reason: String? {
            let error = json["error"] as? [String: Any]
            if let errors = error?["errors"] as? [[String: Any]] { return errors.first?["reason"] as? String }
            return error?["code"] as? String
        }
    }

    static let redirect = "https://app.example.test/oauth/callback"

    static func send(
        _ method: HTTPMethod, _ url: String, bearer: String? = nil, headers: [(String, String)] = [],
        json: String? = nil, form: [String: String]? = nil
    ) async throws -> Raw {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        for (k, v) in headers { request.headers.add(name: k, value: v) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        } else if let form {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            let text = form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
                .joined(separator: "&")
            request.body = .bytes(ByteBuffer(string: text))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 << 20)
        return Raw(status: Int(response.status.code), headers: response.headers, text: String(buffer: body))
    }

    static func at(_ text: String) -> Date {
        ISO8601DateFormatter().date(from: text) ?? Date(timeIntervalSince1970: 0)
    }

    /// A sandbox with one account of `provider`, connected through the real code exchange.
    static func withAccount<T: Sendable>(
        _ provider: SandboxProvider, configure: (inout SandboxConfiguration) -> Void = { _ in },
        _ body: (Sandbox, SandboxEndpoints, SandboxAccount, String) async throws -> T
    ) async throws -> T {
        var configuration = SandboxConfiguration()
        configure(&configuration)
        let sandbox = Sandbox(configuration: configuration)
        return try await withSandboxServer(sandbox) { endpoints in
            let account = sandbox.createAccount(provider, email: "member@example.test")
            let tokens = try #require(sandbox.issueTokens(provider, email: account.email))
            return try await body(sandbox, endpoints, account, tokens.accessToken)
        }
    }

    static func googleEvent(id: String? = nil, start: String = "2026-11-23T14:00:00Z", end: String = "2026-11-23T15:00:00Z") -> String {
        let idPart = id.map { "\"id\":\"\($0)\"," } ?? ""
        return #"{\#(idPart)"summary":"Busy","start":{"dateTime":"\#(start)"},"end":{"dateTime":"\#(end)"}}"#
    }

    // MARK: OAuth

    @Test func googleCodeExchangeIsSingleUseAndChecksRedirectAndClient() async throws {
        let sandbox = Sandbox()
        try await withSandboxServer(sandbox) { e in
            let account = sandbox.createAccount(.google, email: "Ada@Example.test")
            let code = sandbox.issueAuthorizationCode(.google, email: account.email, redirectURI: Self.redirect)
            var form = [
                "grant_type": "authorization_code", "code": code, "redirect_uri": Self.redirect,
                "client_id": "sandbox-google-client", "client_secret": "wrong",
            ]
            let badClient = try await Self.send(.POST, e.googleToken, form: form)
            #expect(badClient.status == 401)
            #expect(badClient.json["error"] as? String == "invalid_client")

            form["client_secret"] = "sandbox-google-secret"
            form["redirect_uri"] = "https://elsewhere.test/cb"
            #expect(try await Self.send(.POST, e.googleToken, form: form).status == 400)

            form["redirect_uri"] = Self.redirect
            let ok = try await Self.send(.POST, e.googleToken, form: form)
            #expect(ok.status == 200)
            #expect(ok.json["token_type"] as? String == "Bearer")
            let access = try #require(ok.json["access_token"] as? String)
            let refresh = try #require(ok.json["refresh_token"] as? String)

            let again = try await Self.send(.POST, e.googleToken, form: form)
            #expect(again.status == 400)
            #expect(again.json["error"] as? String == "invalid_grant")

            let list = try await Self.send(.GET, e.googleAPI + "/users/me/calendarList", bearer: access)
            let primary = try #require(list.items.first { $0["primary"] as? Bool == true })
            #expect(primary["id"] as? String == "ada@example.test")
            #expect(primary["accessRole"] as? String == "owner")

            let refreshForm = [
                "grant_type": "refresh_token", "refresh_token": refresh,
                "client_id": "sandbox-google-client", "client_secret": "sandbox-google-secret",
            ]
            let refreshed = try await Self.send(.POST, e.googleToken, form: refreshForm)
            #expect(refreshed.status == 200)
            #expect(refreshed.json["refresh_token"] == nil)
            #expect(refreshed.json["expires_in"] as? Int == 3599)

            sandbox.revokeRefreshTokens(.google, email: account.email)
            let revoked = try await Self.send(.POST, e.googleToken, form: refreshForm)
            #expect(revoked.status == 400)
            #expect(revoked.json["error_description"] as? String == "Token has been expired or revoked.")

            sandbox.expireAccessTokens(.google, email: account.email)
            let expired = try await Self.send(.GET, e.googleAPI + "/users/me/calendarList", bearer: access)
            #expect(expired.status == 401)
            #expect(expired.reason == "authError")
            #expect(try await Self.send(.GET, e.googleAPI + "/users/me/calendarList").status == 401)
        }
    }

    @Test func microsoftRefreshRotatesAndTheOldTokenDies() async throws {
        let sandbox = Sandbox()
        try await withSandboxServer(sandbox) { e in
            let account = sandbox.createAccount(.microsoft, email: "bob@example.test")
            let code = sandbox.issueAuthorizationCode(.microsoft, email: account.email, redirectURI: Self.redirect)
            var form = [
                "grant_type": "authorization_code", "code": code, "redirect_uri": Self.redirect,
                "client_id": "sandbox-microsoft-client", "client_secret": "sandbox-microsoft-secret",
            ]
            let noScope = try await Self.send(.POST, e.microsoftToken, form: form)
            #expect(noScope.status == 400)
            #expect(noScope.json["error"] as? String == "invalid_request")

            form["scope"] = "offline_access Calendars.ReadWrite User.Read"
            let first = try await Self.send(.POST, e.microsoftToken, form: form)
            #expect(first.status == 200)
            let access = try #require(first.json["access_token"] as? String)
            let r1 = try #require(first.json["refresh_token"] as? String)
            let me = try await Self.send(.GET, e.graph + "/me", bearer: access)
            #expect(me.json["mail"] as? String == "bob@example.test")

            var refreshForm = [
                "grant_type": "refresh_token", "refresh_token": r1, "scope": "offline_access Calendars.ReadWrite",
                "client_id": "sandbox-microsoft-client", "client_secret": "sandbox-microsoft-secret",
            ]
            let second = try await Self.send(.POST, e.microsoftToken, form: refreshForm)
            #expect(second.status == 200)
            let r2 = try #require(second.json["refresh_token"] as? String)
            #expect(r2 != r1)

            let reuse = try await Self.send(.POST, e.microsoftToken, form: refreshForm)
            #expect(reuse.status == 400)
            #expect(reuse.json["error"] as? String == "invalid_grant")
            #expect((reuse.json["error_description"] as? String)?.hasPrefix("AADSTS700082") == true)
            #expect(reuse.json["error_codes"] as? [Int] == [700082])

            sandbox.revokeRefreshTokens(.microsoft, email: account.email)
            refreshForm["refresh_token"] = r2
            let revoked = try await Self.send(.POST, e.microsoftToken, form: refreshForm)
            #expect(revoked.status == 400)
            #expect((revoked.json["error_description"] as? String)?.hasPrefix("AADSTS50173") == true)

            sandbox.expireAccessTokens(.microsoft, email: account.email)
            let expired = try await Self.send(.GET, e.graph + "/me", bearer: access)
            #expect(expired.status == 401)
            #expect(expired.reason == "InvalidAuthenticationToken")
        }
    }

    // MARK: Google writes

    @Test func googleRefusesBadIDsBadTimesAndReusedIDsEvenAfterDelete() async throws {
        try await Self.withAccount(.google) { _, e, _, token in
            let events = e.googleAPI + "/calendars/primary/events"
            let invalidID = try await Self.send(.POST, events, bearer: token, json: Self.googleEvent(id: "Has-Upper_case"))
            #expect(invalidID.status == 400)
            #expect(invalidID.reason == "invalid")
            #expect(try await Self.send(.POST, events, bearer: token, json: Self.googleEvent(id: "abcw1")).status == 400)

            let backwards = try await Self.send(.POST, events, bearer: token, json: Self.googleEvent(start: "2026-11-23T15:00:00Z", end: "2026-11-23T14:00:00Z"))
            #expect(backwards.status == 400)
            #expect(backwards.reason == "timeRangeEmpty")
            let noEnd = try await Self.send(.POST, events, bearer: token, json: #"{"summary":"x","start":{"dateTime":"2026-11-23T14:00:00Z"}}"#)
            #expect(noEnd.status == 400)
            let noZone = try await Self.send(.POST, events, bearer: token, json: Self.googleEvent(start: "2026-11-23T14:00:00", end: "2026-11-23T15:00:00"))
            #expect(noZone.status == 400)

            let broken = try await Self.send(.POST, events, bearer: token, json: #"{"summary":"x","start":{"#)
            #expect(broken.status == 400)
            #expect(broken.reason == "parseError")
            let escaped = try await Self.send(.POST, events, bearer: token, json: #"{"summary":"Zo\u00eb \"q\" \ud83d\ude00 ✓","start":{"dateTime":"2026-11-23T14:00:00+01:00"},"end":{"date":"2026-11-24"}}"#)
            #expect(escaped.status == 400, "date and dateTime mixed")
            let unicode = try await Self.send(.POST, events, bearer: token, json: #"{"summary":"Zo\u00eb \"q\" \ud83d\ude00 ✓","start":{"dateTime":"2026-11-23T14:00:00+01:00"},"end":{"dateTime":"2026-11-23T15:00:00+01:00"}}"#)
            #expect(unicode.json["summary"] as? String == "Zoë \"q\" 😀 ✓")
            #expect((unicode.json["start"] as? [String: Any])?["dateTime"] as? String == "2026-11-23T13:00:00Z")
            let created = try await Self.send(.POST, events, bearer: token, json: Self.googleEvent(id: "evtdup0001abc"))
            #expect(created.status == 200)
            #expect(created.json["id"] as? String == "evtdup0001abc")
            let duplicate = try await Self.send(.POST, events, bearer: token, json: Self.googleEvent(id: "evtdup0001abc"))
            #expect(duplicate.status == 409)
            #expect(duplicate.reason == "duplicate")

            #expect(try await Self.send(.DELETE, events + "/evtdup0001abc", bearer: token).status == 204)
            let afterDelete = try await Self.send(.POST, events, bearer: token, json: Self.googleEvent(id: "evtdup0001abc"))
            #expect(afterDelete.status == 409)
            #expect(afterDelete.reason == "duplicate")
        }
    }

    @Test func googleDeletesAnswer404And410AndPatchUndeletesWithEtags() async throws {
        try await Self.withAccount(.google) { sandbox, e, account, token in
            let events = e.googleAPI + "/calendars/primary/events"
            let unknown = try await Self.send(.DELETE, events + "/neverexisted1", bearer: token)
            #expect(unknown.status == 404)
            #expect(unknown.reason == "notFound")
            #expect(try await Self.send(.PATCH, events + "/neverexisted1", bearer: token, json: "{}").status == 404)

            _ = try await Self.send(.POST, events, bearer: token, json: Self.googleEvent(id: "evt00001"))
            #expect(try await Self.send(.DELETE, events + "/evt00001", bearer: token).status == 204)
            let twice = try await Self.send(.DELETE, events + "/evt00001", bearer: token)
            #expect(twice.status == 410)
            #expect(twice.reason == "deleted")
            let got = try await Self.send(.GET, events + "/evt00001", bearer: token)
            #expect(got.json["status"] as? String == "cancelled")

            let undeleted = try await Self.send(.PATCH, events + "/evt00001", bearer: token, json: #"{"status":"confirmed","summary":"Back"}"#)
            #expect(undeleted.status == 200)
            #expect(undeleted.json["status"] as? String == "confirmed")
            let stored = sandbox.events(.google, email: account.email, calendarID: account.primaryCalendarID)
            #expect(stored.map(\.event.summary) == ["Back"])

            let etag = try #require(undeleted.json["etag"] as? String)
            _ = try await Self.send(.PATCH, events + "/evt00001", bearer: token, json: #"{"summary":"Moved on"}"#)
            let stale = try await Self.send(.PATCH, events + "/evt00001", bearer: token, headers: [("If-Match", etag)], json: #"{"summary":"Stale"}"#)
            #expect(stale.status == 412)
        }
    }

    // MARK: Google reads

    @Test func googlePagingEndsWithSyncTokenAndIncrementalSeesChanges() async throws {
        try await Self.withAccount(.google) { sandbox, e, account, token in
            var ids: [String] = []
            for i in 0..<5 {
                let start = Self.at("2026-11-23T0\(i):00:00Z")
                ids.append(sandbox.insertEvent(.google, email: account.email, calendarID: account.primaryCalendarID,
                                               SandboxEvent(summary: "E\(i)", start: start, end: start.addingTimeInterval(1800))))
            }
            let events = e.googleAPI + "/calendars/primary/events"
            var url = events + "?maxResults=2&singleEvents=true"
            var seen: [String] = []
            var syncToken: String?
            for _ in 0..<10 {
                let page = try await Self.send(.GET, url, bearer: token)
                #expect(page.status == 200)
                seen += page.items.compactMap { $0["id"] as? String }
                let next = page.json["nextPageToken"] as? String
                syncToken = page.json["nextSyncToken"] as? String
                #expect(next == nil || syncToken == nil)
                guard let next else { break }
                url = events + "?maxResults=2&singleEvents=true&pageToken=" + next
            }
            #expect(seen == ids)
            let sync = try #require(syncToken)

            let window = try await Self.send(.GET, events + "?timeMin=2026-11-23T02:00:00Z&timeMax=2026-11-23T03:30:00Z", bearer: token)
            #expect(window.items.compactMap { $0["summary"] as? String } == ["E2", "E3"])

            sandbox.deleteEvent(.google, email: account.email, calendarID: account.primaryCalendarID, eventID: ids[1])
            sandbox.updateEvent(.google, email: account.email, calendarID: account.primaryCalendarID, eventID: ids[3]) { $0.summary = "E3 moved" }
            let incremental = try await Self.send(.GET, events + "?singleEvents=true&syncToken=" + sync, bearer: token)
            #expect(incremental.status == 200)
            let changed = Dictionary(uniqueKeysWithValues: incremental.items.map { ($0["id"] as? String ?? "", $0) })
            #expect(changed.count == 2)
            #expect(changed[ids[1]]?["status"] as? String == "cancelled")
            #expect(changed[ids[3]]?["summary"] as? String == "E3 moved")
            #expect(incremental.json["nextSyncToken"] is String)

            let mixed = try await Self.send(.GET, events + "?timeMin=2026-11-01T00:00:00Z&syncToken=" + sync, bearer: token)
            #expect(mixed.status == 400)

            sandbox.invalidateSyncTokens(.google, email: account.email)
            let gone = try await Self.send(.GET, events + "?syncToken=" + sync, bearer: token)
            #expect(gone.status == 410)
            #expect(gone.reason == "fullSyncRequired")
            #expect(try await Self.send(.GET, events + "?syncToken=garbage", bearer: token).status == 410)
            #expect(try await Self.send(.GET, events + "?maxResults=0", bearer: token).status == 400)
        }
    }

    @Test func googleEmptyPagesStillCarryNextPageToken() async throws {
        try await Self.withAccount(.google, configure: { $0.googleEmptyPageEvery = 2 }) { sandbox, e, account, token in
            for i in 0..<4 {
                let start = Self.at("2026-11-23T0\(i):00:00Z")
                sandbox.insertEvent(.google, email: account.email, calendarID: account.primaryCalendarID,
                                    SandboxEvent(summary: "E\(i)", start: start, end: start.addingTimeInterval(600)))
            }
            let events = e.googleAPI + "/calendars/primary/events"
            var url = events + "?maxResults=2"
            var total = 0
            var emptyWithToken = 0
            for _ in 0..<10 {
                let page = try await Self.send(.GET, url, bearer: token)
                total += page.items.count
                guard let next = page.json["nextPageToken"] as? String else { break }
                if page.items.isEmpty { emptyWithToken += 1 }
                url = events + "?maxResults=2&pageToken=" + next
            }
            #expect(total == 4)
            #expect(emptyWithToken >= 1)
        }
    }

    @Test func googleQuotaRefusesWith403AndRetryAfterOr429() async throws {
        try await Self.withAccount(.google) { sandbox, e, account, token in
            // One request per 20 s: the second is refused however slow the machine is.
            sandbox.setQuota(.google, email: account.email, requestsPerSecond: 0.05)
            let url = e.googleAPI + "/users/me/calendarList"
            #expect(try await Self.send(.GET, url, bearer: token).status == 200)
            let refused = try await Self.send(.GET, url, bearer: token)
            #expect(refused.status == 403)
            #expect(refused.reason == "userRateLimitExceeded")
            #expect(refused.headers.first(name: "Retry-After") != nil)
        }
        try await Self.withAccount(.google, configure: { $0.googleRateLimitStatus = 429 }) { sandbox, e, account, token in
            sandbox.setQuota(.google, email: account.email, requestsPerSecond: 0.05)
            let url = e.googleAPI + "/users/me/calendarList"
            #expect(try await Self.send(.GET, url, bearer: token).status == 200)
            let refused = try await Self.send(.GET, url, bearer: token)
            #expect(refused.status == 429)
            #expect(refused.reason == "rateLimitExceeded")
        }
    }

    // MARK: Graph

    @Test func graphRefusesOffsetsInDateTimeAndRequiresAWindow() async throws {
        try await Self.withAccount(.microsoft) { _, e, account, token in
            let events = e.graph + "/me/calendars/\(account.primaryCalendarID)/events"
            let offset = try await Self.send(.POST, events, bearer: token, json: #"{"subject":"x","start":{"dateTime":"2026-11-23T14:00:00+01:00","timeZone":"UTC"},"end":{"dateTime":"2026-11-23T15:00:00.0000000","timeZone":"UTC"}}"#)
            #expect(offset.status == 400)
            #expect(offset.json["error"] is [String: Any])
            let created = try await Self.send(.POST, events, bearer: token, json: #"{"subject":"x","start":{"dateTime":"2026-11-23T14:00:00.0000000","timeZone":"UTC"},"end":{"dateTime":"2026-11-23T15:00:00.0000000","timeZone":"UTC"}}"#)
            #expect(created.status == 201)
            let id = try #require(created.json["id"] as? String)

            let view = e.graph + "/me/calendars/\(account.primaryCalendarID)/calendarView"
            #expect(try await Self.send(.GET, view + "?startDateTime=2026-11-01T00:00:00Z", bearer: token).status == 400)
            let found = try await Self.send(.GET, view + "?startDateTime=2026-11-01T00:00:00Z&endDateTime=2026-12-01T00:00:00Z", bearer: token, headers: [("Prefer", #"outlook.timezone="UTC""#)])
            #expect(found.items.compactMap { $0["id"] as? String } == [id])
            #expect((found.items.first?["start"] as? [String: Any])?["dateTime"] as? String == "2026-11-23T14:00:00.0000000")

            #expect(try await Self.send(.DELETE, e.graph + "/me/events/\(id)", bearer: token).status == 204)
            let missing = try await Self.send(.DELETE, e.graph + "/me/events/\(id)", bearer: token)
            #expect(missing.status == 404)
            #expect(missing.reason == "ErrorItemNotFound")
        }
    }

    @Test func graphTransactionIDIsSingleUseAndExtendedPropertiesAreFilterable() async throws {
        try await Self.withAccount(.microsoft) { _, e, _, token in
            let prop = "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name calsyncKey"
            let body = #"{"subject":"x","transactionId":"tx-1","start":{"dateTime":"2026-11-23T14:00:00.0000000","timeZone":"UTC"},"end":{"dateTime":"2026-11-23T15:00:00.0000000","timeZone":"UTC"},"singleValueExtendedProperties":[{"id":"\#(prop)","value":"k-42"}]}"#
            let first = try await Self.send(.POST, e.graph + "/me/events", bearer: token, json: body)
            #expect(first.status == 201)
            let id = try #require(first.json["id"] as? String)
            let retry = try await Self.send(.POST, e.graph + "/me/events", bearer: token, json: body)
            #expect(retry.status == 409)
            #expect(retry.reason == "ErrorDuplicateTransactionId")

            let filter = "singleValueExtendedProperties/Any(ep: ep/id eq '\(prop)' and ep/value eq 'k-42')"
            let expand = "singleValueExtendedProperties($filter=id eq '\(prop)')"
            var components = URLComponents(string: e.graph + "/me/events")
            components?.queryItems = [URLQueryItem(name: "$filter", value: filter), URLQueryItem(name: "$expand", value: expand)]
            let url = try #require(components?.percentEncodedQuery.map { e.graph + "/me/events?" + $0 })
            let found = try await Self.send(.GET, url, bearer: token)
            #expect(found.status == 200)
            #expect(found.items.compactMap { $0["id"] as? String } == [id])
            let props = found.items.first?["singleValueExtendedProperties"] as? [[String: Any]]
            #expect(props?.first?["value"] as? String == "k-42")

            components?.queryItems = [URLQueryItem(name: "$filter", value: filter.replacingOccurrences(of: "k-42", with: "other"))]
            let none = try await Self.send(.GET, e.graph + "/me/events?" + (components?.percentEncodedQuery ?? ""), bearer: token)
            #expect(none.items.isEmpty)
        }
    }

    @Test func graphDeltaPagesEndInDeltaLinkAndReportRemovals() async throws {
        try await Self.withAccount(.microsoft) { sandbox, e, account, token in
            var ids: [String] = []
            for i in 0..<3 {
                let start = Self.at("2026-11-23T0\(i):00:00Z")
                ids.append(sandbox.insertEvent(.microsoft, email: account.email, calendarID: account.primaryCalendarID,
                                               SandboxEvent(summary: "E\(i)", start: start, end: start.addingTimeInterval(1800))))
            }
            let prefer = [("Prefer", "odata.maxpagesize=2")]
            var url = e.graph + "/me/calendarView/delta?startDateTime=2026-11-01T00:00:00Z&endDateTime=2026-12-01T00:00:00Z"
            #expect(try await Self.send(.GET, url + "&$filter=x", bearer: token).status == 400)
            var seen: [String] = []
            var deltaLink: String?
            for _ in 0..<10 {
                let page = try await Self.send(.GET, url, bearer: token, headers: prefer)
                #expect(page.status == 200)
                seen += page.items.compactMap { $0["id"] as? String }
                deltaLink = page.json["@odata.deltaLink"] as? String
                guard let next = page.json["@odata.nextLink"] as? String else { break }
                #expect(next.contains("$skiptoken="))
                url = next
            }
            #expect(Set(seen) == Set(ids))
            let link = try #require(deltaLink)
            #expect(link.contains("$deltatoken="))

            sandbox.deleteEvent(.microsoft, email: account.email, calendarID: account.primaryCalendarID, eventID: ids[0])
            let changes = try await Self.send(.GET, link, bearer: token)
            #expect(changes.status == 200)
            let removed = changes.items.first { $0["id"] as? String == ids[0] }
            #expect((removed?["@removed"] as? [String: Any])?["reason"] as? String == "deleted")
            #expect(changes.json["@odata.deltaLink"] is String)

            sandbox.invalidateSyncTokens(.microsoft, email: account.email)
            let gone = try await Self.send(.GET, link, bearer: token)
            #expect(gone.status == 410)
            #expect(gone.reason == "SyncStateNotFound")
        }
    }

    @Test func graphThrottlesWith429AndRetryAfter() async throws {
        try await Self.withAccount(.microsoft) { sandbox, e, account, token in
            sandbox.setQuota(.microsoft, email: account.email, requestsPerSecond: 0.05)
            #expect(try await Self.send(.GET, e.graph + "/me", bearer: token).status == 200)
            let refused = try await Self.send(.GET, e.graph + "/me", bearer: token)
            #expect(refused.status == 429)
            #expect(refused.reason == "ApplicationThrottled")
            #expect(refused.headers.first(name: "Retry-After").flatMap(Int.init) != nil)
        }
    }

    @Test func graphRefusesAFifthConcurrentRequestPerMailbox() async throws {
        try await Self.withAccount(.microsoft) { sandbox, e, _, token in
            _ = sandbox.addFault(SandboxFault(.latency(milliseconds: 2000), provider: .microsoft, pathContains: "/me", remaining: 6))
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 { group.addTask { try await Self.send(.GET, e.graph + "/me", bearer: token).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count <= 4)
            #expect(statuses.contains(429))
        }
    }

    @Test func googleFreeBusyFollowsTheBusyRules() async throws {
        try await Self.withAccount(.google) { sandbox, e, account, token in
            func add(_ summary: String, _ start: String, _ change: (inout SandboxEvent) -> Void = { _ in }) {
                var event = SandboxEvent(summary: summary, start: Self.at(start), end: Self.at(start).addingTimeInterval(3600))
                change(&event)
                sandbox.insertEvent(.google, email: account.email, calendarID: account.primaryCalendarID, event)
            }
            add("busy", "2026-11-23T09:00:00Z")
            add("free", "2026-11-23T11:00:00Z") { $0.free = true }
            add("declined", "2026-11-23T12:00:00Z") { $0.declinedBySelf = true }
            add("location", "2026-11-23T13:00:00Z") { $0.eventType = "workingLocation" }
            add("ooo", "2026-11-23T14:00:00Z") { $0.eventType = "outOfOffice" }
            let answer = try await Self.send(.POST, e.googleAPI + "/freeBusy", bearer: token, json: #"{"timeMin":"2026-11-23T00:00:00Z","timeMax":"2026-11-24T00:00:00Z","items":[{"id":"primary"}]}"#)
            #expect(answer.status == 200)
            let busy = ((answer.json["calendars"] as? [String: Any])?["primary"] as? [String: Any])?["busy"] as? [[String: String]]
            #expect(busy?.map { $0["start"] ?? "" } == ["2026-11-23T09:00:00Z", "2026-11-23T14:00:00Z"])
        }
    }

    // MARK: Faults, log, control API

    @Test func faultsFireTheGivenNumberOfTimesAndTheLogCountsWrites() async throws {
        try await Self.withAccount(.google) { sandbox, e, account, token in
            _ = sandbox.addFault(SandboxFault(.status(503, body: nil), provider: .google, pathContains: "/calendarList", method: "GET", remaining: 2))
            let url = e.googleAPI + "/users/me/calendarList"
            let first = try await Self.send(.GET, url, bearer: token)
            #expect(first.status == 503)
            #expect(first.reason == "backendError")
            #expect(try await Self.send(.GET, url, bearer: token).status == 503)
            #expect(try await Self.send(.GET, url, bearer: token).status == 200)

            _ = sandbox.addFault(SandboxFault(.dropAfterProcessing, provider: .google, pathContains: "/events", method: "POST", remaining: 1))
            let events = e.googleAPI + "/calendars/primary/events"
            #expect(try await Self.send(.POST, events, bearer: token, json: Self.googleEvent(id: "dropped01")).status == 504)
            #expect(sandbox.events(.google, email: account.email, calendarID: account.primaryCalendarID).map(\.id) == ["dropped01"])
            #expect(try await Self.send(.POST, events, bearer: token, json: Self.googleEvent(id: "dropped01")).status == 409)

            _ = sandbox.addFault(SandboxFault(.malformedJSON, provider: .microsoft, remaining: 1))
            #expect(try await Self.send(.GET, url, bearer: token).status == 200)

            let writes = sandbox.requests().filter { $0.isWrite }
            #expect(writes.count == 2)
            #expect(writes.allSatisfy { $0.account == account.email && $0.method == "POST" })
            #expect(sandbox.requests().count == 6)
        }
    }

    @Test func probabilisticFaultsDrawTheSameSequenceFromTheSameSeed() async throws {
        func statuses(seed: UInt64) async throws -> [Int] {
            try await Self.withAccount(.google) { sandbox, e, _, token in
                sandbox.seedFaults(seed)
                _ = sandbox.addFault(SandboxFault(.status(500, body: nil), provider: .google, probability: 0.3))
                var out: [Int] = []
                for _ in 0..<40 {
                    out.append(try await Self.send(.GET, e.googleAPI + "/users/me/calendarList", bearer: token).status)
                }
                return out
            }
        }
        let first = try await statuses(seed: 7)
        #expect(first.contains(500) && first.contains(200), "\(first)")
        #expect(try await statuses(seed: 7) == first)
        #expect(try await statuses(seed: 8) != first)
    }

    @Test(arguments: [SandboxProvider.google, .microsoft])
    func requestsBeforeARetryAfterRanOutAreRecordedPerAccount(provider: SandboxProvider) async throws {
        try await Self.withAccount(provider) { sandbox, e, account, token in
            let url = provider == .google ? e.googleAPI + "/users/me/calendarList" : e.graph + "/me"
            _ = sandbox.addFault(SandboxFault(.status(429, body: nil), provider: provider, remaining: 1))
            let refused = try await Self.send(.GET, url, bearer: token)
            #expect(refused.status == 429)
            #expect(refused.headers.first(name: "Retry-After") == "1")
            #expect(sandbox.earlyRequests().isEmpty)

            // The same account, right after the tolerance for requests already on their way: early.
            try await Task.sleep(for: .milliseconds(100))
            #expect(try await Self.send(.GET, url, bearer: token).status == 200)
            let early = sandbox.earlyRequests()
            #expect(early.count == 1)
            #expect(early.first?.account == account.email)
            #expect(early.first.map { $0.allowedAt > $0.time } == true)
            #expect(early.first?.status == 429)

            // Another account of the same provider is not held back by this account's Retry-After.
            let other = sandbox.createAccount(provider, email: "other@example.test")
            let otherToken = try #require(sandbox.issueTokens(provider, email: other.email)).accessToken
            #expect(try await Self.send(.GET, url, bearer: otherToken).status == 200)
            #expect(sandbox.earlyRequests().count == 1)

            // Once the wait has run out, the account's requests are on time.
            let allowedAt = try #require(early.first?.allowedAt)
            try await Task.sleep(for: .milliseconds(Int64(max(0, allowedAt.timeIntervalSinceNow) * 1000) + 100))
            #expect(try await Self.send(.GET, url, bearer: token).status == 200)
            #expect(sandbox.earlyRequests().count == 1, "a request after the Retry-After ran out is on time")
        }
    }

    @Test func theControlAPIMirrorsTheSwiftAPI() async throws {
        let sandbox = Sandbox()
        try await withSandboxServer(sandbox) { e in
            let created = try await Self.send(.POST, e.control + "/accounts", json: #"{"provider":"microsoft","email":"c@example.test"}"#)
            #expect(created.status == 201)
            let calendarID = try #require(created.json["primaryCalendarID"] as? String)
            let insert = #"{"provider":"microsoft","email":"c@example.test","event":{"summary":"Seeded","start":"2026-11-23T14:00:00Z","end":"2026-11-23T15:00:00Z","free":true}}"#
            #expect(try await Self.send(.POST, e.control + "/events", json: insert).status == 201)
            let stored = sandbox.events(.microsoft, email: "c@example.test", calendarID: calendarID)
            #expect(stored.map(\.event.summary) == ["Seeded"])
            #expect(stored.first?.event.free == true)
            let fault = try await Self.send(.POST, e.control + "/faults", json: #"{"kind":{"status":{"_0":500}},"remaining":1}"#)
            #expect(fault.status == 201)
            let tokens = try await Self.send(.POST, e.control + "/tokens", json: #"{"provider":"microsoft","email":"c@example.test"}"#)
            let access = try #require(tokens.json["access_token"] as? String)
            #expect(try await Self.send(.GET, e.graph + "/me", bearer: access).status == 500)
            #expect(try await Self.send(.GET, e.graph + "/me", bearer: access).status == 200)
            let log = try await Self.send(.GET, e.control + "/requests")
            #expect(log.text.contains("\"status\":500"))
        }
    }
}
