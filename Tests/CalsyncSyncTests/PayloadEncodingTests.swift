import CalsyncJobs
import CalsyncQueue
import CalsyncSync
import Foundation
import Testing

/// Producers (the scheduler, a connect's follow-up) write payloads with `JSONEncoder`; the strict decoders read them back.
@Suite("Payload encoding")
struct PayloadEncodingTests {
    static func text(_ payload: some Encodable) throws -> String {
        String(decoding: try JobQueue.jsonEncoder.encode(payload), as: UTF8.self)
    }

    @Test func anImportWritesOnlyWhatDiffersFromTheDefaults() throws {
        #expect(try Self.text(ImportWindowPayload(memberID: "m1", provider: .google)) == #"{"member_id":"m1","provider":"google"}"#)
        #expect(
            try Self.text(ImportWindowPayload(memberID: "m\"1", provider: .microsoft, fullResync: true))
                == #"{"full_resync":true,"member_id":"m\"1","provider":"microsoft"}"#)
        let window = ImportWindowPayload(
            memberID: "m1", provider: nil, windowStart: RFC3339Instant(Date(timeIntervalSince1970: 1_800_000_000)),
            windowEnd: RFC3339Instant(Date(timeIntervalSince1970: 1_800_086_400.5)))
        let decoded = try ImportWindowPayload.decode(from: Array(try JobQueue.jsonEncoder.encode(window)))
        #expect(decoded.memberID == "m1" && decoded.provider == nil && !decoded.fullResync)
        #expect(decoded.windowStart == window.windowStart && decoded.windowEnd == window.windowEnd)
    }

    @Test func aRefreshWritesForceOnlyWhenSet() throws {
        #expect(try Self.text(RefreshTokenPayload(memberID: "m1", provider: .google)) == #"{"member_id":"m1","provider":"google"}"#)
        let forced = try RefreshTokenPayload.decode(
            from: Array(try JobQueue.jsonEncoder.encode(RefreshTokenPayload(memberID: "m1", provider: .microsoft, force: true))))
        #expect(forced.force && forced.provider == .microsoft)
    }

    @Test func idsHaveOneLengthLimitEverywhere() throws {
        #expect(Job.idLengths == 1...128)
        let longest = String(repeating: "m", count: Job.idLengths.upperBound)
        #expect(try ImportWindowPayload.decode(from: Array(#"{"member_id":"\#(longest)"}"#.utf8)).memberID == longest)
        #expect(throws: JobPayloadError.self) {
            _ = try ImportWindowPayload.decode(from: Array(#"{"member_id":"\#(longest)m"}"#.utf8))
        }
    }
}
