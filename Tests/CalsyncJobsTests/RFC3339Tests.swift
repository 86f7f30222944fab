import CalsyncJobs
import Foundation
import Testing

/// The one RFC 3339 parser and formatter: what the envelope, the payloads, the providers and the CLI read and write.
@Suite("RFC 3339")
struct RFC3339Tests {
    let utc = Date(timeIntervalSince1970: 1_795_442_400)  // 2026-11-23T14:00:00Z

    @Test func parsesOffsetsFractionsAndSeparators() {
        #expect(RFC3339.parse("2026-11-23T14:00:00Z") == utc)
        #expect(RFC3339.parse("2026-11-23t14:00:00z") == utc)
        #expect(RFC3339.parse("2026-11-23 14:00:00Z") == utc)
        #expect(RFC3339.parse("2026-11-23T23:00:00+09:00") == utc)
        #expect(RFC3339.parse("2026-11-23T06:00:00-08:00") == utc)
        #expect(RFC3339.parse("2026-11-23T14:00:00.500Z")?.timeIntervalSince1970 == 1_795_442_400.5)
        #expect(RFC3339.parse("2028-02-29T10:00:00Z") != nil, "a leap day")
    }

    @Test func refusesMalformedText() {
        for bad in [
            "", "2026-11-23", "2026-13-01T00:00:00Z", "2026-11-23T14:00:00+0900", "2026-11-23T14:00:00Zjunk",
            "2026-02-29T10:00:00Z", "2026-04-31T10:00:00Z", "2026-11-23T14:00:00.Z", "2026-11-23T24:00:00Z",
            "2026-11-23T14:00:00+24:00", "2026-11-23T14:00:00+09:60",
        ] {
            #expect(RFC3339.parse(bad) == nil, "\(bad)")
            #expect(RFC3339.parse(bad, assumeOffsetSeconds: 0) == nil, "\(bad)")
        }
    }

    @Test func aTimeWithoutOffsetNeedsAnAssumedOne() {
        #expect(RFC3339.parse("2026-11-23T14:00:00.0000000") == nil)
        #expect(RFC3339.parse("2026-11-23T14:00:00.0000000", assumeOffsetSeconds: 0) == utc)
        #expect(RFC3339.parse("2026-11-23T23:00:00", assumeOffsetSeconds: 9 * 3600) == utc)
        #expect(RFC3339.parse("2026-11-23T23:00:00+00:00", assumeOffsetSeconds: 9 * 3600) == utc.addingTimeInterval(9 * 3600), "a given offset wins")
    }

    @Test func formatsMillisecondsSecondsAndWallTime() {
        let date = utc.addingTimeInterval(0.25)
        #expect(RFC3339.format(date) == "2026-11-23T14:00:00.250Z")
        #expect(RFC3339.formatSeconds(date) == "2026-11-23T14:00:00Z")
        #expect(RFC3339.formatWall(date) == "2026-11-23T14:00:00")
        #expect(RFC3339.formatSeconds(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00Z")
        #expect(RFC3339.format(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500Z")
        #expect(RFC3339.formatSeconds(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00Z")
    }

    @Test func roundTripsEveryDayOfFourYearsWithALeapDay() {
        var day = Date(timeIntervalSince1970: 946_684_800)  // 2000-01-01
        for _ in 0..<(366 * 4 + 1) {
            #expect(RFC3339.parse(RFC3339.format(day)) == day)
            #expect(RFC3339.parse(RFC3339.formatSeconds(day)) == Date(timeIntervalSince1970: day.timeIntervalSince1970.rounded(.down)))
            day = day.addingTimeInterval(86_400 + 0.125)
        }
    }

    @Test func theCLIFormMatchesFoundationsISO8601() {
        let date = utc.addingTimeInterval(3 * 86_400 + 3_723)
        #expect(RFC3339.formatSeconds(date) == date.formatted(.iso8601))
    }
}
