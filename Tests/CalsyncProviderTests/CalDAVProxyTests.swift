import CalsyncCalDAV
import CalsyncHTTP
import CalsyncSync
import Foundation
import Testing

/// What a server cannot produce by itself, through a fault-injecting proxy in front of real Radicale and Xandikos.
@Suite("CalDAV client through a fault proxy")
struct CalDAVProxyTests {
    /// The account's calendar as seen through the proxy.
    static func throughProxy(_ account: CalDAVAccount, _ proxy: String) -> CalDAVAccount {
        CalDAVAccount(
            server: account.server, username: account.username, password: account.password, serverURL: proxy,
            calendarURL: proxy + String(account.calendarURL.dropFirst(account.serverURL.count)))
    }

    @Test(arguments: CalDAVServer.all)
    func theServerChoosesTheObjectURLAndSendsNoETag(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let log = ProxyState<[String]>([])
        try await CalDAVFaultProxy.with(upstream: account.serverURL, handle: { request, forward in
            log.with { $0.append("\(request.method) \(request.path)") }
            var request = request
            var location: String?
            if request.method == "PUT", request.header("If-None-Match") == "*" {
                // The server stores the new object under a name of its own and says where (Location).
                let folder = request.path[..<(request.path.lastIndex(of: "/").map { request.path.index(after: $0) } ?? request.path.endIndex)]
                request.path = folder + "srv-\(UUID().uuidString.lowercased()).ics"
                location = request.path
            }
            var answer = try await forward(request)
            if request.method == "PUT" {
                answer.headers.removeAll { $0.0.lowercased() == "etag" }
                if let location { answer.headers.append(("Location", location)) }
            }
            return answer
        }) { proxy in
            let via = Self.throughProxy(account, proxy)
            let provider = CalDAVTests.provider()
            let key = ExportKey(memberID: "m1", appointmentID: "apt-srv-name")
            let created = try await provider.upsertEvent(
                CalDAVServerTests.event(key), key: key, calendarID: via.calendarURL, knownEventID: nil, knownETag: nil, credentials: via.credentials)
            #expect(created.id.hasPrefix(via.calendarURL + "srv-"))
            #expect(created.etag != nil)  // read back with PROPFIND
            #expect(!created.id.contains(key.digest))
            let moved = try await provider.upsertEvent(
                CalDAVServerTests.event(key, start: CalDAVServerTests.start.addingTimeInterval(3600)), key: key, calendarID: via.calendarURL,
                knownEventID: created.id, knownETag: created.etag, credentials: via.credentials)
            #expect(moved.id == created.id)
            #expect(try await CalDAVTests.objects(account).count == 1)
            try await provider.deleteEvent(
                key: key, calendarID: via.calendarURL, knownEventID: moved.id, knownETag: moved.etag, credentials: via.credentials)
            #expect(try await CalDAVTests.objects(account).isEmpty)
            // A create retried after its answer was lost lands under a second server-chosen name: the first is removed.
            let again = try await provider.upsertEvent(
                CalDAVServerTests.event(key), key: key, calendarID: via.calendarURL, knownEventID: nil, knownETag: nil, credentials: via.credentials)
            #expect(try await CalDAVTests.objects(account) == [again.id.replacingOccurrences(of: proxy, with: account.serverURL)])
            try await provider.deleteEvent(
                key: key, calendarID: via.calendarURL, knownEventID: again.id, knownETag: again.etag, credentials: via.credentials)
            #expect(try await CalDAVTests.objects(account).isEmpty)
            // Only the creates asked for <uid>.ics; the move and the delete went to the URL the server answered.
            #expect(log.with { $0 }.filter { $0.contains("calsync-\(key.digest).ics") }.map { $0.prefix(4) } == ["PUT ", "PUT "])
            #expect(log.with { $0 }.contains { $0.hasPrefix("DELETE ") && $0.contains("/srv-") })
        }
    }

    @Test(arguments: CalDAVServer.all)
    func a429AndA503WithRetryAfterAreRateLimitsWithTheirWait(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let faults = ProxyState<[ProxyResponse]>([
            ProxyResponse(status: 429, headers: [("Retry-After", "7")], body: ""),
            ProxyResponse(status: 503, headers: [("Retry-After", "3")], body: ""),
        ])
        try await CalDAVFaultProxy.with(upstream: account.serverURL, handle: { request, forward in
            if request.method == "PUT", let fault = faults.with({ $0.isEmpty ? nil : $0.removeFirst() }) { return fault }
            return try await forward(request)
        }) { proxy in
            let via = Self.throughProxy(account, proxy)
            let provider = CalDAVTests.provider()
            let key = ExportKey(memberID: "m1", appointmentID: "apt-429")
            for expected in [Duration.seconds(7), .seconds(3)] {
                await #expect {
                    _ = try await provider.upsertEvent(
                        CalDAVServerTests.event(key), key: key, calendarID: via.calendarURL, knownEventID: nil, knownETag: nil,
                        credentials: via.credentials)
                } throws: { error in
                    guard let error = error as? ProviderError else { return false }
                    return error.code == .rateLimited && error.retryAfter == expected
                }
            }
            // Then it goes through.
            _ = try await provider.upsertEvent(
                CalDAVServerTests.event(key), key: key, calendarID: via.calendarURL, knownEventID: nil, knownETag: nil, credentials: via.credentials)
            #expect(try await CalDAVTests.objects(account).count == 1)
        }
    }

    @Test(arguments: CalDAVServer.all)
    func aPasswordChangedAtTheServerIsRefusedAtConnectAndAsksForAReconnectLater(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        // The proxy checks passwords in front of both servers (Xandikos has no authentication of its own).
        let password = ProxyState(account.password)
        try await CalDAVFaultProxy.with(upstream: account.serverURL, handle: { request, forward in
            guard let basic = CalDAVFaultProxy.basic(request), basic.password == password.with({ $0 }) else {
                return ProxyResponse(status: 401, headers: [("WWW-Authenticate", "Basic realm=\"test\"")], body: "")
            }
            var request = request
            // Upstream (Radicale) still knows the original password.
            request.headers.removeAll { $0.0.lowercased() == "authorization" }
            request.headers.append(("Authorization", "Basic " + Data("\(account.username):\(account.password)".utf8).base64EncodedString()))
            return try await forward(request)
        }) { proxy in
            let via = Self.throughProxy(account, proxy)
            let provider = CalDAVTests.provider()
            let found = try await provider.connect(serverURL: via.calendarURL, username: via.username, password: via.password)
            #expect(found.calendars.map(\.id) == [via.calendarURL])
            password.with { $0 = "changed" }
            await #expect {
                _ = try await provider.connect(serverURL: via.serverURL, username: via.username, password: via.password)
            } throws: { error in (error as? ProviderError)?.code == .invalidCredentials }
            let key = ExportKey(memberID: "m1", appointmentID: "apt-401")
            await #expect {
                _ = try await provider.upsertEvent(
                    CalDAVServerTests.event(key), key: key, calendarID: via.calendarURL, knownEventID: nil, knownETag: nil, credentials: via.credentials)
            } throws: { error in (error as? ProviderError)?.kind == .authExpired }
            await #expect {
                _ = try await provider.refresh(via.credentials)
            } throws: { error in (error as? ProviderError)?.kind == .reconnectRequired }
        }
    }

    @Test(arguments: CalDAVServer.all)
    func aWindowIsOneQueryWithDataAndAnAnswerTooLargeIsReadInHalvesOrByHrefsAndMultiget(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        for day in 10..<26 {
            let put = try await CalDAVTests.raw(
                "PUT", account.calendarURL + "e\(day).ics", account,
                body: CalDAVTests.vevent(uid: "e\(day)", start: "202611\(day)T090000Z", end: "202611\(day)T100000Z"))
            #expect(put.status < 300)
        }
        // Across the middle of the window: in both halves' answers, read once.
        let across = try await CalDAVTests.raw(
            "PUT", account.calendarURL + "across.ics", account, body: CalDAVTests.vevent(uid: "across", start: "20261115T230000Z", end: "20261116T010000Z"))
        #expect(across.status < 300)
        let log = ProxyState<[String]>([])
        // How the proxy answers the queries with data: as the server does; refusing those over more than 10 days
        // (as Radicale refuses an answer of more than 10,000 events) or all of them; marking those over more than
        // 10 days as cut short (a 507 for the collection itself); or marking every query's answer as cut short.
        let mode = ProxyState("pass")
        try await CalDAVFaultProxy.with(upstream: account.serverURL, handle: { request, forward in
            let body = request.body
            let kind =
                body.contains("calendar-multiget") ? "multiget"
                : body.contains("calendar-query") ? (body.contains("calendar-data") ? "query with data" : "query")
                : body.contains("sync-token") ? "sync-token" : body.contains("getctag") ? "getctag" : "other"
            log.with { $0.append("\(request.method) \(kind)") }
            let mode = mode.with { $0 }
            let long = Self.timeRangeDays(body).map { $0 > 10 } ?? false
            if kind == "query with data", mode == "refuse all" || (mode == "refuse long" && long) {
                return ProxyResponse(status: 400, headers: [], body: "Bad Request")
            }
            var answer = try await forward(request)
            let cut = (mode == "truncate long" && kind == "query with data" && long) || (mode == "truncate all" && kind.hasPrefix("query"))
            if cut, let close = answer.body.range(of: "</", options: .backwards) {
                let marker = #"<D:response xmlns:D="DAV:"><D:href>\#(request.path)</D:href><D:status>HTTP/1.1 507 Insufficient Storage</D:status></D:response>"#
                answer.body.insert(contentsOf: marker, at: close.lowerBound)
            }
            return answer
        }) { proxy in
            let via = Self.throughProxy(account, proxy)
            let utc = TimeZone(identifier: "UTC")!
            let window = DateInterval(start: CalDAVServerTests.at("2026-11-01T00:00:00Z"), end: CalDAVServerTests.at("2026-12-01T00:00:00Z"))
            let expected = ((10..<26).map { CalDAVServerTests.at("2026-11-\($0)T09:00:00Z") } + [CalDAVServerTests.at("2026-11-15T23:00:00Z")]).sorted()
            // The cursor, then every object's data in one answer.
            let whole = try await CalDAVTests.provider().readBusy(
                calendarID: via.calendarURL, window: window, memberTimeZone: utc, credentials: via.credentials)
            #expect(whole.events.map(\.start).sorted() == expected)
            #expect(log.with { $0 } == ["PROPFIND sync-token", "REPORT query with data"])
            let data = "REPORT query with data", hrefs = "REPORT query", multiget = "REPORT multiget"
            var small = CalDAVConfiguration(http: .init(requestTimeout: .seconds(60), maxResponseBytes: 5_000))
            small.multigetBatch = 4
            var batches = CalDAVConfiguration(http: .init(requestTimeout: .seconds(60)))
            batches.multigetBatch = 4
            let cases: [(String, CalDAVConfiguration, [String])] = [
                // Over calsync's limit (about 8 KB; the listing is about 3 KB): hrefs, then 5 multigets of up to 4.
                ("pass", small, [data, hrefs] + Array(repeating: multiget, count: 5)),
                // Refused or cut short over 30 and 15 days: the window in halves, then quarters of 7.5 days.
                ("refuse long", batches, Array(repeating: data, count: 7)),
                ("truncate long", batches, Array(repeating: data, count: 7)),
                // Refused down to the quarters: each quarter by hrefs, the object across the middle fetched once
                // (quarters hold 0, 7, 8 and 2 objects).
                ("refuse all", batches, [data, data, data, hrefs, data, hrefs, multiget, multiget, data, data, hrefs, multiget, multiget, data, hrefs, multiget]),
            ]
            for (answers, configuration, requests) in cases {
                log.with { $0 = [] }
                mode.with { $0 = answers }
                let again = try await CalDAVTests.provider(configuration).readBusy(
                    calendarID: via.calendarURL, window: window, memberTimeZone: utc, credentials: via.credentials)
                #expect(again.events.map(\.start).sorted() == expected, "\(answers)")
                #expect(Set(again.events.map(\.externalEventID)) == Set(whole.events.map(\.externalEventID)), "\(answers)")
                #expect(again.cursor == whole.cursor)
                #expect(log.with { $0 } == ["PROPFIND sync-token"] + requests, "\(answers)")
            }
            // A listing cut short too: an error, never a partial window (it would drop busy time).
            mode.with { $0 = "truncate all" }
            await #expect {
                _ = try await CalDAVTests.provider(small).readBusy(
                    calendarID: via.calendarURL, window: window, memberTimeZone: utc, credentials: via.credentials)
            } throws: { error in (error as? ProviderError)?.code == .responseTooLarge }
        }
    }

    /// The days between the `start` and `end` of a request's `time-range`, if it has one.
    static func timeRangeDays(_ body: String) -> Double? {
        func value(_ name: String) -> Date? {
            guard let range = body.range(of: "\(name)=\""), body[range.upperBound...].count >= 16 else { return nil }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
            return formatter.date(from: String(body[range.upperBound...].prefix(16)))
        }
        guard let start = value("start"), let end = value("end") else { return nil }
        return end.timeIntervalSince(start) / 86_400
    }

    @Test(arguments: CalDAVServer.all)
    func withoutSyncCollectionTheCtagIsTheCursorAndCalendarQueryReads(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let put = try await CalDAVTests.raw(
            "PUT", account.calendarURL + "a.ics", account, body: CalDAVTests.vevent(uid: "a", start: "20261120T090000Z", end: "20261120T100000Z"))
        #expect(put.status < 300)
        try await CalDAVFaultProxy.with(upstream: account.serverURL, handle: { request, forward in
            // A server without RFC 6578: no sync-token property, sync-collection not implemented.
            if request.method == "REPORT", request.body.contains("sync-collection") {
                return ProxyResponse(status: 501, headers: [], body: "")
            }
            var request = request
            request.body = request.body.replacingOccurrences(of: "<d:sync-token/>", with: #"<x:no-sync-token xmlns:x="urn:x-calsync-test"/>"#)
            return try await forward(request)
        }) { proxy in
            let via = Self.throughProxy(account, proxy)
            let provider = CalDAVTests.provider()
            let utc = TimeZone(identifier: "UTC")!
            let window = DateInterval(start: CalDAVServerTests.at("2026-11-01T00:00:00Z"), end: CalDAVServerTests.at("2026-12-01T00:00:00Z"))
            let snapshot = try await provider.readBusy(calendarID: via.calendarURL, window: window, memberTimeZone: utc, credentials: via.credentials)
            #expect(snapshot.events.map(\.start) == [CalDAVServerTests.at("2026-11-20T09:00:00Z")])
            let cursor = try #require(snapshot.cursor)
            #expect(cursor.value.hasPrefix("ctag:"))
            let none = try await provider.readBusyChanges(calendarID: via.calendarURL, cursor: cursor, memberTimeZone: utc, credentials: via.credentials)
            #expect(none.upserts.isEmpty && none.removedEventIDs.isEmpty)
            _ = try await CalDAVTests.raw(
                "PUT", account.calendarURL + "b.ics", account, body: CalDAVTests.vevent(uid: "b", start: "20261121T090000Z", end: "20261121T100000Z"))
            await #expect {
                _ = try await provider.readBusyChanges(calendarID: via.calendarURL, cursor: cursor, memberTimeZone: utc, credentials: via.credentials)
            } throws: { error in (error as? ProviderError)?.kind == .fullResyncRequired }
            let again = try await provider.readBusy(calendarID: via.calendarURL, window: window, memberTimeZone: utc, credentials: via.credentials)
            #expect(again.events.count == 2)
        }
    }

    @Test(arguments: CalDAVServer.all)
    func discoveryFollowsARedirectToAnotherLoopbackHostButNotToPlainHTTPElsewhere(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let target = ProxyState("")
        try await CalDAVFaultProxy.with(upstream: account.serverURL, handle: { request, forward in
            if request.path.hasPrefix("/.well-known/caldav") {
                return ProxyResponse(status: 301, headers: [("Location", target.with { $0 })], body: "")
            }
            return try await forward(request)
        }) { proxy in
            let port = proxy.split(separator: ":").last.map(String.init) ?? ""
            // 127.0.0.1 → localhost: another host, on loopback.
            target.with { $0 = "http://localhost:\(port)/" }
            let found = try await CalDAVTests.provider().connect(serverURL: proxy + "/", username: account.username, password: account.password)
            #expect(found.calendars.contains { $0.id == "http://localhost:\(port)" + String(account.calendarURL.dropFirst(account.serverURL.count)) })
            // Plain http to a host that is not loopback: refused, the password is never sent there.
            target.with { $0 = "http://caldav.example.com/" }
            await #expect {
                _ = try await CalDAVTests.provider().connect(serverURL: proxy + "/", username: account.username, password: account.password)
            } throws: { error in (error as? ProviderError)?.code == .untrustedRedirect }
        }
    }
}
