import CalsyncGoogle
import CalsyncHTTP
import CalsyncMicrosoft
import CalsyncSync
import Foundation
import Testing

@Suite("Times, Retry-After and error classification")
struct PlumbingTests {
    @Test func parsesRFC3339Variants() throws {
        let utc = try #require(ProviderTime.parseDateTime("2026-11-23T14:00:00Z"))
        #expect(utc.timeIntervalSince1970 == 1_795_442_400)
        #expect(ProviderTime.parseDateTime("2026-11-23T23:00:00+09:00") == utc.addingTimeInterval(0))
        #expect(ProviderTime.parseDateTime("2026-11-23T06:00:00-08:00") == utc)
        #expect(ProviderTime.parseDateTime("2026-11-23T14:00:00.0000000") == utc)
        #expect(ProviderTime.parseDateTime("2026-11-23T14:00:00.500Z")?.timeIntervalSince1970 == 1_795_442_400.5)
        for bad in ["", "2026-11-23", "2026-13-01T00:00:00Z", "2026-11-23T14:00:00+0900", "garbage-garbage-garbage", "2026-11-23T14:00:00Zjunk", "2026-02-29T10:00:00Z", "2026-04-31T10:00:00Z", "2026-11-23T14:00:00.Z", "2026-11-23T14:00:00+24:00"] {
            #expect(ProviderTime.parseDateTime(bad) == nil, "\(bad)")
        }
        #expect(ProviderTime.parseDateTime("2028-02-29T10:00:00Z") != nil, "a leap day")
        #expect(ProviderTime.parseDate("2026-02-30") == nil)
        #expect(ProviderTime.formatRFC3339(utc) == "2026-11-23T14:00:00Z")
        #expect(ProviderTime.formatGraph(utc) == "2026-11-23T14:00:00.0000000")
        #expect(ProviderTime.formatRFC3339(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
    }

    @Test func allDayDatesAreMidnightInTheMembersZone() throws {
        let tokyo = ProviderTime.calendar(in: try #require(TimeZone(identifier: "Asia/Tokyo")))
        let la = ProviderTime.calendar(in: try #require(TimeZone(identifier: "America/Los_Angeles")))
        // 2026-11-23 00:00 in Tokyo (UTC+9) is 2026-11-22 15:00 UTC.
        #expect(ProviderTime.startOfDay("2026-11-23", in: tokyo) == ProviderTime.parseDateTime("2026-11-22T15:00:00Z"))
        // 2026-11-23 00:00 in Los Angeles (UTC-8 in November) is 08:00 UTC.
        #expect(ProviderTime.startOfDay("2026-11-23", in: la) == ProviderTime.parseDateTime("2026-11-23T08:00:00Z"))
        // Across the DST change (2026-03-08 in LA): a 23-hour day.
        let s = try #require(ProviderTime.startOfDay("2026-03-08", in: la))
        let e = try #require(ProviderTime.startOfDay("2026-03-09", in: la))
        #expect(e.timeIntervalSince(s) == 23 * 3600)
        #expect(ProviderTime.startOfDay("not-a-date", in: la) == nil)
    }

    @Test func retryAfterReadsSecondsAndHTTPDates() throws {
        let now = try #require(ProviderTime.parseDateTime("2015-10-21T07:28:00Z"))
        #expect(RetryAfter.parse("120", now: now) == .seconds(120))
        #expect(RetryAfter.parse(" 0 ", now: now) == .seconds(0))
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:29:00 GMT", now: now) == .seconds(60))
        #expect(RetryAfter.parse("Wednesday, 21-Oct-15 07:30:00 GMT", now: now) == .seconds(120))
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:00:00 GMT", now: now) == .zero)
        #expect(RetryAfter.parse("-5", now: now) == nil)
        #expect(RetryAfter.parse("soon", now: now) == nil)
    }

    @Test func urlEncodingIsStrict() {
        #expect(URLEncoding.component("a b/c@d#e") == "a%20b%2Fc%40d%23e")
        #expect(URLEncoding.form([("grant_type", "refresh_token"), ("x", "1&2=3")]) == "grant_type=refresh_token&x=1%262%3D3")
        #expect(URLEncoding.origin("https://Graph.Microsoft.com/v1.0/me?x=1") == "https://graph.microsoft.com")
        #expect(URLEncoding.origin("http://127.0.0.1:8080/microsoft/v1.0") == "http://127.0.0.1:8080")
        #expect(URLEncoding.origin("no-scheme") == nil)
    }

    func google(_ status: Int, reason: String?, retryAfter: String? = nil) -> ProviderError {
        let body = reason.map { #"{"error":{"code":\#(status),"message":"m","errors":[{"domain":"usageLimits","reason":"\#($0)","message":"m"}]}}"# } ?? ""
        return GoogleErrorClassifier.classify(
            HTTPResult(status: status, headers: retryAfter.map { [("Retry-After", $0)] } ?? [], body: body, serviceName: "Google"))
    }

    @Test func googleErrorsAreClassifiedAsProvidersMdSays() {
        #expect(google(429, reason: "rateLimitExceeded", retryAfter: "7").kind == .retryable(retryAfter: .seconds(7)))
        #expect(google(403, reason: "rateLimitExceeded").kind == .retryable(retryAfter: nil))
        #expect(google(403, reason: "userRateLimitExceeded").isRetryable)
        let quota = google(403, reason: "quotaExceeded")
        #expect(quota.code == .quotaExceeded)
        #expect((quota.retryAfter ?? .zero) >= .seconds(600))
        #expect(google(403, reason: "forbiddenForNonOrganizer").kind == .permanent)
        #expect(google(403, reason: nil).kind == .permanent)
        #expect(google(401, reason: "authError").kind == .authExpired)
        #expect(google(500, reason: "backendError").isRetryable)
        #expect(google(503, reason: nil, retryAfter: "3").retryAfter == .seconds(3))
        #expect(google(410, reason: "fullSyncRequired").kind == .fullResyncRequired)
        #expect(google(404, reason: "notFound").kind == .notFound)
        #expect(google(400, reason: "invalid").kind == .permanent)
        for e in [google(403, reason: "quotaExceeded"), google(401, reason: "authError")] {
            #expect(e.httpStatus != nil)
            #expect(!e.message.isEmpty)
        }
    }

    func graph(_ status: Int, code: String?, retryAfter: String? = nil) -> ProviderError {
        let body = code.map { #"{"error":{"code":"\#($0)","message":"m"}}"# } ?? ""
        return GraphErrorClassifier.classify(
            HTTPResult(status: status, headers: retryAfter.map { [("Retry-After", $0)] } ?? [], body: body, serviceName: "Microsoft"))
    }

    @Test func graphErrorsAreClassifiedAsProvidersMdSays() {
        #expect(graph(429, code: "ApplicationThrottled", retryAfter: "9").kind == .retryable(retryAfter: .seconds(9)))
        #expect(graph(503, code: "ServiceNotAvailable").isRetryable)
        #expect(graph(401, code: "InvalidAuthenticationToken").kind == .authExpired)
        #expect(graph(410, code: "SyncStateNotFound").kind == .fullResyncRequired)
        #expect(graph(404, code: "ErrorItemNotFound").kind == .notFound)
        #expect(graph(400, code: "ErrorDuplicateTransactionId").code == .duplicateTransaction)
        #expect(graph(409, code: "ErrorDuplicateTransactionId").code == .duplicateTransaction)
        #expect(graph(403, code: "ErrorAccessDenied").kind == .permanent)
        #expect(graph(400, code: "BadRequest").kind == .permanent)
    }

    @Test func malformedBodiesBecomeClassifiedErrors() throws {
        struct Needs: Decodable { var id: String }
        for body in ["{\"items\": [", "{}", "{\"id\": 5}", "", "<html>"] {
            let result = HTTPResult(status: 200, body: body, serviceName: "Google")
            do {
                _ = try result.decode(Needs.self)
                Issue.record("decoded \(body)")
            } catch let error as ProviderError {
                #expect(error.code == .malformedResponse)
                #expect(!error.message.contains(body) || body.isEmpty)
            }
        }
    }

    @Test func busyAccumulatorKeepsTheLastWordPerEvent() {
        var acc = BusyChangeAccumulator()
        let e = BusyEvent(externalEventID: "a", calendarID: "c", start: Date(), end: Date().addingTimeInterval(60), isAllDay: false)
        acc.busy(e)
        acc.notBusy("b")
        acc.notBusy("a")
        acc.busy(BusyEvent(externalEventID: "b", calendarID: "c", start: e.start, end: e.end, isAllDay: false))
        acc.notBusy("c")
        acc.notBusy("c")
        #expect(acc.events.map(\.externalEventID) == ["b"])
        #expect(acc.removedIDs == ["a", "c"])
    }
}
