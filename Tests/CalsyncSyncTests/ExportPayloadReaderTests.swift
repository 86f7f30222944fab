import CalsyncSync
import Foundation
import Testing

/// The export payload read without `JSONDecoder` is the decoder's payload, and whatever is not plainly well formed
/// is left to the decoder.
@Suite("Export payload reader")
struct ExportPayloadReaderTests {
    /// Every field of a payload, for comparison.
    static func fields(_ p: ExportAppointmentPayload) -> [String] {
        let a = p.appointment
        return [
            p.memberID, a.id, "\(a.revision)", a.status, "\(a.countsAsBusy)", "\(a.startsAt.date.timeIntervalSince1970)",
            "\(a.endsAt.date.timeIntervalSince1970)", "\(a.timeZone as Any)", "\(a.serviceName as Any)", "\(a.customerName as Any)",
            "\(a.customerEmail as Any)", "\(a.notes as Any)", "\(a.location as Any)", "\(a.video as Any)",
        ]
    }

    static func payload(_ appointment: String, member: String = #""member_id":"m-1""#) -> [UInt8] {
        Array(#"{\#(member),"appointment":{\#(appointment)}}"#.utf8)
    }

    static let base = #""id":"a-1","revision":7,"status":"confirmed","counts_as_busy":true,"starts_at":"2026-11-23T14:00:00Z","ends_at":"2026-11-23T15:00:00.5+01:00""#

    @Test(arguments: [
        base,
        base + #","time_zone":"Europe/Berlin","service_name":"Cut \"&\" colour \\ \u00e9 🎉","customer_name":null,"notes":"a\nb","location":"","video":"google_meet""#,
        base + #","video":null,"unknown":{"x":[1,2,{"y":null}]},"customer_email":"x@example.test""#,
        #""revision":0,"status":"cancelled","counts_as_busy":false,"id":"a-2","starts_at":"2026-11-23T14:00:00Z","ends_at":"2026-11-23T14:30:00Z","video":"teams""#,
    ])
    func aWellFormedPayloadIsTheDecodersPayload(appointment: String) throws {
        let bytes = Self.payload(appointment)
        let byHand = try #require(ExportAppointmentPayload.decodeWellFormed(bytes))
        let byDecoder = try JSONDecoder().decode(ExportAppointmentPayload.self, from: Data(bytes))
        #expect(Self.fields(byHand) == Self.fields(byDecoder))
    }

    @Test(arguments: [
        base.replacingOccurrences(of: #""revision":7"#, with: #""revision":7.0"#),
        base.replacingOccurrences(of: #""revision":7"#, with: #""revision":"7""#),
        base.replacingOccurrences(of: #""revision":7"#, with: #""revision":99999999999999999999"#),
        base.replacingOccurrences(of: #""counts_as_busy":true"#, with: #""counts_as_busy":1"#),
        base.replacingOccurrences(of: #""id":"a-1","#, with: ""),
        base.replacingOccurrences(of: "14:00:00Z", with: "14:00:00"),
        base + #","video":"zoom""#,
        base + #","notes":7"#,
        base + #","id":"a-2""#,
        base + #","notes":"bad \ud800 escape""#,
    ])
    func anythingElseIsLeftToTheDecoder(appointment: String) throws {
        #expect(ExportAppointmentPayload.decodeWellFormed(Self.payload(appointment)) == nil)
    }

    @Test func aBrokenEnvelopeIsLeftToTheDecoderToo() {
        #expect(ExportAppointmentPayload.decodeWellFormed(Self.payload(Self.base, member: #""member_id":7"#)) == nil)
        #expect(ExportAppointmentPayload.decodeWellFormed(Array("[]".utf8)) == nil)
        #expect(ExportAppointmentPayload.decodeWellFormed(Array(#"{"member_id":"m","appointment":[]}"#.utf8)) == nil)
        #expect(ExportAppointmentPayload.decodeWellFormed(Array(#"{"member_id":"m","#.utf8)) == nil)
        // The same message as ever for a payload the decoder refuses.
        let error = #expect(throws: JobPayloadError.self) {
            try ExportAppointmentPayload.decode(from: Self.payload(Self.base.replacingOccurrences(of: #""revision":7"#, with: #""revision":"7""#)))
        }
        #expect(error?.message.contains("revision") == true)
    }
}
