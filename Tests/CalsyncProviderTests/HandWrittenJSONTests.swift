import CalsyncHTTP
import CalsyncSync
import Foundation
import Testing

@testable import CalsyncGoogle
@testable import CalsyncMicrosoft

/// The export bodies written by hand are the JSON `JSONEncoder` writes, and the hand-read answers fail as `decode` does.
@Suite("Hand-written export JSON")
struct HandWrittenJSONTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)

    /// Events whose text needs every kind of escaping, and plain ones.
    static let events: [RenderedEvent] = [
        RenderedEvent(
            title: "Haircut", description: nil, location: nil, start: start, end: start.addingTimeInterval(3600),
            timeZone: "Europe/Berlin", visibility: .private, markerValue: "a-1"),
        RenderedEvent(
            title: "Say \"hi\" \\ to / Zoë 🎉", description: "line 1\nline 2\t\u{1}\u{1f}\r", location: "Straße 1 \u{2028}",
            start: start, end: start.addingTimeInterval(5400), timeZone: "America/New_York", visibility: .default,
            markerValue: "a\"b\\c"),
    ]

    /// The JSON value of some bytes, to compare texts by meaning.
    static func value(_ bytes: [UInt8]) throws -> NSObject {
        try #require(JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) as? NSObject)
    }

    @Test func googleWritesAreTheEncodersJSON() throws {
        for event in Self.events {
            for (id, status) in [("calsyncabc", nil), (nil, "confirmed")] as [(String?, String?)] {
                let write = GoogleEventWrite(event, id: id, status: status)
                #expect(try Self.value(write.jsonBytes) == Self.value(JSONBody.encode(write)), "\(String(decoding: write.jsonBytes, as: UTF8.self))")
            }
        }
    }

    @Test func graphWritesAreTheEncodersJSON() throws {
        for event in Self.events {
            for transactionID in ["tx-1", nil] as [String?] {
                let write = GraphEventWrite(event, transactionID: transactionID)
                #expect(try Self.value(write.jsonBytes) == Self.value(JSONBody.encode(write)), "\(String(decoding: write.jsonBytes, as: UTF8.self))")
            }
        }
    }

    @Test func anIDAndETagAreReadAsTheDecoderReadsThem() throws {
        let ok = HTTPResult(status: 200, body: #"{"kind":"x","etag":"\"3\"","nested":{"id":"no"},"id":"ev\u00e9 1"}"#, serviceName: "Google")
        let read = try ok.decodeIDAndETag()
        #expect(read.id == "evé 1")
        #expect(read.etag == "\"3\"")
        let decoded = try ok.decode(GoogleEventID.self)
        #expect(decoded.id == read.id && decoded.etag == read.etag)

        let graph = HTTPResult(status: 201, body: #"{"@odata.etag":"W/\"x\"","id":"AAM=","etag":"not this"}"#, serviceName: "Microsoft")
        let graphRead = try graph.decodeIDAndETag(etagKey: "@odata.etag")
        #expect(graphRead.id == "AAM=" && graphRead.etag == "W/\"x\"")
        #expect(try HTTPResult(status: 200, body: #"{"id":"x","etag":null}"#, serviceName: "Google").decodeIDAndETag().etag == nil)
        #expect(try HTTPResult(status: 200, body: #" {"id":"x"} "#, serviceName: "Google").decodeIDAndETag().etag == nil)
    }

    @Test(arguments: [
        (#"{"id":"x""#, "not valid JSON"), ("", "not valid JSON"), ("<html>", "not valid JSON"), (#"{"id":"x"} x"#, "not valid JSON"),
        (#"["id"]"#, "not a JSON object"), (#"{"etag":"1"}"#, "`id` is missing"), (#"{"id":7}"#, "`id` has the wrong type"),
        (#"{"id":null}"#, "`id` has the wrong type"), (#"{"id":"x","etag":1}"#, "`etag` has the wrong type"),
    ])
    func aMalformedAnswerIsTheSameClassifiedError(body: String, detail: String) throws {
        let result = HTTPResult(status: 200, body: body, serviceName: "Google")
        var byHand: ProviderError?
        do { _ = try result.decodeIDAndETag(what: "created event") } catch let error as ProviderError { byHand = error }
        var byDecoder: ProviderError?
        do { _ = try result.decode(GoogleEventID.self, what: "created event") } catch let error as ProviderError { byDecoder = error }
        let error = try #require(byHand)
        #expect(error.code == .malformedResponse)
        #expect(error.code == byDecoder?.code)
        #expect(error.kind == byDecoder?.kind)
        #expect(error.httpStatus == 200)
        #expect(error.message.contains("created event") && error.message.contains(detail), "\(error.message)")
    }
}
