import CalsyncJobs
import CalsyncSync
import Foundation
import Testing

@Suite("Hand-written JSON text is the encoder's text, byte for byte")
struct JSONTextTests {
    static let strings = [
        "", "m-1", "member 42", "a/b", "quote\"inside", "back\\slash", "tab\there", "line\nbreak", "nul\u{0}", "bell\u{7}",
        "del\u{7f}", "é ü ß", "日本語", "emoji 🗓️", "\u{2028}\u{2029}", "\u{1f}", "mixed \"/\\\u{8}\u{c}",
    ]

    @Test("a string literal", arguments: strings)
    func quoted(_ value: String) throws {
        #expect(JSONText.quoted(value) == String(decoding: try Job.jsonEncoder.encode(value), as: UTF8.self))
    }

    @Test("an import_window payload, with and without a window", arguments: strings)
    func importPayload(_ member: String) throws {
        let start = RFC3339Instant(Date(timeIntervalSince1970: 1_796_202_000))
        let end = RFC3339Instant(Date(timeIntervalSince1970: 1_796_288_400))
        let payloads = [
            ImportWindowPayload(memberID: member, provider: .google),
            ImportWindowPayload(memberID: member, provider: .microsoft, fullResync: true),
            ImportWindowPayload(memberID: member, provider: nil),
            ImportWindowPayload(memberID: member, provider: .caldav, windowStart: start, windowEnd: end, fullResync: true),
        ]
        for payload in payloads {
            #expect(try payload.jsonText == String(decoding: try Job.jsonEncoder.encode(payload), as: UTF8.self))
        }
    }
}
