import CalsyncCalDAV
import CalsyncHTTP
import CalsyncSync
import Foundation
import Testing

/// Where the CalDAV client sends the member's password (review finding 5) and how it finds an object to delete
/// without a stored URL (finding 6): the policy by itself, then through the fault proxy in front of Radicale and Xandikos.
@Suite("CalDAV URL rules")
struct CalDAVURLRulesTests {
    @Test func plainHTTPToLoopbackOnlyWhenTheServerAddressIsLoopbackItself() {
        let remote = URL(string: "https://caldav.example.com/")!
        let local = URL(string: "http://127.0.0.1:5232/")!
        // A remote server never steers the password to this machine's plain-http services.
        #expect(!CalDAVURLPolicy.allowed(URL(string: "http://127.0.0.1:8082/")!, start: remote))
        #expect(!CalDAVURLPolicy.allowed(URL(string: "http://localhost/")!, start: remote))
        #expect(CalDAVURLPolicy.allowed(URL(string: "http://localhost:8082/")!, start: local))
        // Discovery may move to another https host (iCloud's pNN-caldav hosts).
        #expect(CalDAVURLPolicy.allowed(URL(string: "https://p42-caldav.icloud.com/1/")!, in: .discovery(start: remote)))
        #expect(!CalDAVURLPolicy.allowed(URL(string: "http://p42-caldav.icloud.com/1/")!, in: .discovery(start: remote)))
        // A stored calendar's requests stay on its own origin.
        let calendar = URL(string: "https://p42-caldav.icloud.com/1/calendars/home/")!
        #expect(CalDAVURLPolicy.allowed(URL(string: "https://p42-caldav.icloud.com:443/1/x/")!, in: .sameOrigin(calendar)))
        #expect(!CalDAVURLPolicy.allowed(URL(string: "https://evil.example/1/calendars/home/")!, in: .sameOrigin(calendar)))
        #expect(!CalDAVURLPolicy.allowed(URL(string: "http://p42-caldav.icloud.com/1/calendars/home/")!, in: .sameOrigin(calendar)))
        #expect(!CalDAVURLPolicy.allowed(URL(string: "https://p42-caldav.icloud.com:8443/1/")!, in: .sameOrigin(calendar)))
    }

    @Test func anObjectURLMustLieInsideTheCalendarCollection() {
        let calendar = URL(string: "https://caldav.example.com/dav/alice/work/")!
        #expect(CalDAVURLPolicy.isObject(URL(string: "https://caldav.example.com/dav/alice/work/x.ics")!, inside: calendar))
        #expect(CalDAVURLPolicy.isObject(URL(string: "https://CALDAV.example.com:443/dav/alice/work/x.ics")!, inside: calendar))
        #expect(!CalDAVURLPolicy.isObject(URL(string: "https://evil.example/dav/alice/work/x.ics")!, inside: calendar))
        #expect(!CalDAVURLPolicy.isObject(URL(string: "https://caldav.example.com/dav/alice/home/x.ics")!, inside: calendar))
        #expect(!CalDAVURLPolicy.isObject(URL(string: "https://caldav.example.com/dav/alice/work")!, inside: calendar))
        #expect(!CalDAVURLPolicy.isObject(URL(string: "https://caldav.example.com/dav/alice/work/")!, inside: calendar))
        #expect(!CalDAVURLPolicy.isObject(URL(string: "https://caldav.example.com/dav/alice/work/../home/x.ics")!, inside: calendar))
        #expect(!CalDAVURLPolicy.isObject(URL(string: "https://caldav.example.com/dav/alice/workshop/x.ics")!, inside: calendar))
    }

    /// Requests the proxy saw with a `Host` other than its own 127.0.0.1 (i.e. sent to `localhost`, "another host").
    static func elsewhere(_ log: ProxyState<[String]>) -> [String] {
        log.with { $0 }.filter { !$0.contains("host=127.0.0.1") }
    }

    static func record(_ log: ProxyState<[String]>, _ request: ProxyRequest) {
        log.with { $0.append("\(request.method) \(request.path) host=\(request.header("Host") ?? "")") }
    }

    @Test(arguments: CalDAVServer.all)
    func aLocationOnAnotherHostOrCollectionIsNotKeptAsTheObjectURL(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let location = ProxyState("")
        let log = ProxyState<[String]>([])
        try await CalDAVFaultProxy.with(upstream: account.serverURL, handle: { request, forward in
            Self.record(log, request)
            var answer = try await forward(request)
            if request.method == "PUT" { answer.headers.append(("Location", location.with { $0 })) }
            return answer
        }) { proxy in
            let via = CalDAVProxyTests.throughProxy(account, proxy)
            let port = proxy.split(separator: ":").last.map(String.init) ?? ""
            let provider = CalDAVTests.provider()
            let path = String(via.calendarURL.dropFirst(proxy.count))
            for (index, target) in [
                "http://localhost:\(port)\(path)evil.ics",  // another host (on loopback)
                "\(proxy)/elsewhere/evil.ics",  // the same host, outside the collection
            ].enumerated() {
                location.with { $0 = target }
                let key = ExportKey(memberID: "m1", appointmentID: "apt-location-\(index)")
                let created = try await provider.upsertEvent(
                    CalDAVServerTests.event(key), key: key, calendarID: via.calendarURL, knownEventID: nil, knownETag: nil,
                    credentials: via.credentials)
                #expect(created.id == via.calendarURL + "calsync-\(key.digest).ics")
                let moved = try await provider.upsertEvent(
                    CalDAVServerTests.event(key, start: CalDAVServerTests.start.addingTimeInterval(3600)), key: key,
                    calendarID: via.calendarURL, knownEventID: created.id, knownETag: created.etag, credentials: via.credentials)
                #expect(moved.id == created.id)
            }
            #expect(Self.elsewhere(log).isEmpty)
            #expect(!log.with { $0 }.contains { $0.contains("/elsewhere/") })
            #expect(try await CalDAVTests.objects(account).count == 2)
        }
    }

    @Test(arguments: CalDAVServer.all)
    func aStoredObjectURLOutsideTheCollectionIsNeverWrittenTo(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let log = ProxyState<[String]>([])
        try await CalDAVFaultProxy.with(upstream: account.serverURL, handle: { request, forward in
            Self.record(log, request)
            return try await forward(request)
        }) { proxy in
            let via = CalDAVProxyTests.throughProxy(account, proxy)
            let port = proxy.split(separator: ":").last.map(String.init) ?? ""
            let provider = CalDAVTests.provider()
            let key = ExportKey(memberID: "m1", appointmentID: "apt-stored-elsewhere")
            let foreign = "http://localhost:\(port)\(String(via.calendarURL.dropFirst(proxy.count)))x.ics"
            let written = try await provider.upsertEvent(
                CalDAVServerTests.event(key), key: key, calendarID: via.calendarURL, knownEventID: foreign, knownETag: "\"1\"",
                credentials: via.credentials)
            #expect(written.id == via.calendarURL + "calsync-\(key.digest).ics")
            try await provider.deleteEvent(
                key: key, calendarID: via.calendarURL, knownEventID: foreign, knownETag: "\"1\"", credentials: via.credentials)
            #expect(Self.elsewhere(log).isEmpty)
            #expect(try await CalDAVTests.objects(account).isEmpty)
        }
    }

    @Test(arguments: CalDAVServer.all)
    func aStoredCalendarsReadsDoNotFollowARedirectToAnotherHost(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let log = ProxyState<[String]>([])
        try await CalDAVFaultProxy.with(upstream: account.serverURL, handle: { request, forward in
            Self.record(log, request)
            if request.header("Host")?.hasPrefix("127.0.0.1") == true {
                let port = request.header("Host")?.split(separator: ":").last.map(String.init) ?? ""
                return ProxyResponse(status: 301, headers: [("Location", "http://localhost:\(port)\(request.path)")], body: "")
            }
            return try await forward(request)
        }) { proxy in
            let via = CalDAVProxyTests.throughProxy(account, proxy)
            let window = DateInterval(start: CalDAVServerTests.at("2026-11-01T00:00:00Z"), end: CalDAVServerTests.at("2026-12-01T00:00:00Z"))
            await #expect {
                _ = try await CalDAVTests.provider().readBusy(
                    calendarID: via.calendarURL, window: window, memberTimeZone: TimeZone(identifier: "UTC")!, credentials: via.credentials)
            } throws: { error in (error as? ProviderError)?.code == .untrustedRedirect }
            #expect(Self.elsewhere(log).isEmpty)
        }
    }

    @Test(arguments: CalDAVServer.all)
    func discoveryRefusesAPrincipalHrefOnPlainHTTPElsewhere(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        try await CalDAVFaultProxy.with(upstream: account.serverURL, handle: { request, forward in
            var answer = try await forward(request)
            if request.method == "PROPFIND" {
                // Every principal / home href points at a plain-http host that is not loopback.
                answer.body = answer.body.replacingOccurrences(
                    of: #"(<[A-Za-z0-9]*:?href>)/"#, with: "$1http://caldav.example.com/", options: .regularExpression)
            }
            return answer
        }) { proxy in
            await #expect {
                _ = try await CalDAVTests.provider().connect(serverURL: proxy + "/", username: account.username, password: account.password)
            } throws: { error in (error as? ProviderError)?.code == .untrustedRedirect }
        }
    }

    @Test(arguments: CalDAVServer.all)
    func aCancellationWithoutAStoredURLFindsTheObjectTheServerNamedItself(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        try await CalDAVFaultProxy.with(upstream: account.serverURL, handle: { request, forward in
            var request = request
            if request.method == "PUT", request.header("If-None-Match") == "*" {
                let folder = request.path[..<(request.path.lastIndex(of: "/").map { request.path.index(after: $0) } ?? request.path.endIndex)]
                request.path = folder + "srv-\(UUID().uuidString.lowercased()).ics"
            }
            return try await forward(request)
        }) { proxy in
            let via = CalDAVProxyTests.throughProxy(account, proxy)
            let provider = CalDAVTests.provider()
            let key = ExportKey(memberID: "m1", appointmentID: "apt-cancel-unknown")
            let other = ExportKey(memberID: "m1", appointmentID: "apt-keep")
            for each in [key, other] {
                _ = try await provider.upsertEvent(
                    CalDAVServerTests.event(each), key: each, calendarID: via.calendarURL, knownEventID: nil, knownETag: nil,
                    credentials: via.credentials)
            }
            #expect(try await CalDAVTests.objects(account).count == 2)
            // The export state was lost (or an older write may land): no URL is known.
            try await provider.deleteEvent(key: key, calendarID: via.calendarURL, knownEventID: nil, knownETag: nil, credentials: via.credentials)
            let left = try await CalDAVTests.objects(account)
            #expect(left.count == 1)
            #expect(left.allSatisfy { !$0.contains("calsync-\(key.digest)") })
        }
    }
}

/// Review finding 12: a 412 is decided by the appointment's revision, not written over blindly.
@Suite("CalDAV 412 decided by revision")
struct CalDAVRevisionTests {
    static func event(_ key: ExportKey, hour: Double, revision: Int64) -> RenderedEvent {
        var event = CalDAVServerTests.event(key, start: CalDAVServerTests.start.addingTimeInterval(hour * 3600))
        event.revision = revision
        return event
    }

    @Test(arguments: CalDAVServer.all)
    func aStaleWriteDoesNotReplaceANewerRevisionButANewerWriteDoes(_ server: CalDAVServer) async throws {
        try server.requireRunning()
        let account = try await CalDAVTests.account(on: server)
        let provider = CalDAVTests.provider()
        let key = ExportKey(memberID: "m1", appointmentID: "apt-revision")
        let five = try await provider.upsertEvent(
            Self.event(key, hour: 5, revision: 5), key: key, calendarID: account.calendarURL, knownEventID: nil, knownETag: nil,
            credentials: account.credentials)
        let stored = try await CalDAVTests.raw("GET", five.id, account)
        #expect(stored.body.contains("X-CALSYNC-REVISION:5"))
        #expect(stored.body.contains("SEQUENCE:5"))
        // Revision 3 lands late, with an ETag that no longer matches: revision 5 stays.
        let three = try await provider.upsertEvent(
            Self.event(key, hour: 3, revision: 3), key: key, calendarID: account.calendarURL, knownEventID: five.id,
            knownETag: "\"stale\"", credentials: account.credentials)
        #expect(three.id == five.id)
        #expect(try await CalDAVTests.raw("GET", five.id, account).body.contains("X-CALSYNC-REVISION:5"))
        // A retried create of an older revision (If-None-Match: * → 412) does not replace it either.
        _ = try await provider.upsertEvent(
            Self.event(key, hour: 4, revision: 4), key: key, calendarID: account.calendarURL, knownEventID: nil, knownETag: nil,
            credentials: account.credentials)
        #expect(try await CalDAVTests.raw("GET", five.id, account).body.contains("X-CALSYNC-REVISION:5"))
        // Revision 6 with a stale ETag is newer: written over.
        let six = try await provider.upsertEvent(
            Self.event(key, hour: 6, revision: 6), key: key, calendarID: account.calendarURL, knownEventID: five.id,
            knownETag: "\"stale\"", credentials: account.credentials)
        #expect(six.id == five.id)
        let after = try await CalDAVTests.raw("GET", six.id, account).body
        #expect(after.contains("X-CALSYNC-REVISION:6"))
        #expect(try await CalDAVTests.objects(account).count == 1)
    }
}
