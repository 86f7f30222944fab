import CalsyncJobs
import Foundation
import Testing

@testable import CalsyncQueue

@Suite("Retry policy")
struct RetryPolicyTests {
    @Test func fullJitterStaysWithinTheExponentialBound() {
        let policy = RetryPolicy.exponentialJitter(base: .seconds(2), cap: .seconds(900), maxAttempts: 8)
        #expect(policy.maxDelay(afterAttempt: 1) == .seconds(2))
        #expect(policy.maxDelay(afterAttempt: 2) == .seconds(4))
        #expect(policy.maxDelay(afterAttempt: 5) == .seconds(32))
        #expect(policy.maxDelay(afterAttempt: 20) == .seconds(900))
        #expect(policy.maxDelay(afterAttempt: 500) == .seconds(900))
        var sawSmall = false
        var sawLarge = false
        for attempt in 1...12 {
            let bound = policy.maxDelay(afterAttempt: attempt)
            for _ in 0..<200 {
                let delay = policy.delay(afterAttempt: attempt, retryAfter: nil)
                #expect(delay >= .zero && delay <= bound)
                if attempt == 10 {
                    if delay < bound / 4 { sawSmall = true }
                    if delay > bound * 3 / 4 { sawLarge = true }
                }
            }
        }
        #expect(sawSmall && sawLarge, "full jitter spreads over the whole range")
    }

    @Test func retryAfterIsAFloor() {
        let policy = RetryPolicy.exponentialJitter(base: .milliseconds(10), cap: .milliseconds(20), maxAttempts: 3)
        for _ in 0..<100 {
            #expect(policy.delay(afterAttempt: 1, retryAfter: .seconds(30)) == .seconds(30))
            #expect(policy.delay(afterAttempt: 2, retryAfter: .milliseconds(5)) >= .milliseconds(5))
        }
        #expect(RetryPolicy.never.maxAttempts == 1)
        #expect(RetryPolicy.never.delay(afterAttempt: 1, retryAfter: nil) == .zero)
    }

    @Test func defaults() {
        let configuration = QueueConfiguration()
        #expect(configuration.prefix == "calsync")
        #expect(configuration.leaseDuration == .seconds(30))
        #expect(configuration.maxLeaseExpiries == 3)
        #expect(configuration.retry.maxAttempts == 8)
        #expect(configuration.maxDeferrals == 1000)
        #expect(configuration.deadLetterMaxCount == 10_000)
        #expect(configuration.maxJobBytes == 1_048_576)
        let worker = WorkerConfiguration()
        #expect(worker.concurrency == 64)
        #expect(worker.shutdownGrace == .seconds(25))
        #expect(worker.idlePollInterval == .milliseconds(20))
        #expect(worker.workerID.split(separator: ":").count >= 3)
    }
}

@Suite("Envelopes and redaction")
struct EnvelopeTests {
    @Test func validEnvelopeKeepsThePayloadText() throws {
        let raw = Array(#"{"id":"j1","type":"t","enqueued_at":"2026-11-21T10:00:00.250+01:00","payload": {"a" : [1, 2.5e3, "x\"y"], "b":null} }"#.utf8)
        guard case .valid(let id, let enqueuedAt, let payload, let redacted) = JobEnvelope.check(raw, listType: "t") else {
            Issue.record("not valid")
            return
        }
        #expect(id == "j1")
        #expect(enqueuedAt == Date(timeIntervalSince1970: 1_795_251_600.25))
        #expect(String(decoding: payload, as: UTF8.self) == #"{"a" : [1, 2.5e3, "x\"y"], "b":null}"#)
        #expect(redacted == nil)
    }

    @Test(arguments: [
        (#"{"id":"j1","type":"t","payload":{}"#, false),  // truncated
        (#"{"type":"t","payload":{}}"#, false),  // no id
        (#"{"id":"","type":"t","payload":{}}"#, false),  // empty id
        (#"{"id":"j1","type":"other","payload":{}}"#, true),  // wrong type
        (#"{"id":"j1","type":"t","payload":[]}"#, true),  // payload not an object
        (#"{"id":"j1","type":"t","enqueued_at":"yesterday","payload":{}}"#, true),
        (#"{"id":7,"type":"t","payload":{}}"#, false),
        ("[1,2]", false),
    ])
    func invalidEnvelopes(_ text: String, hasID: Bool) {
        guard case .invalid(_, let id, _) = JobEnvelope.check(Array(text.utf8), listType: "t") else {
            Issue.record("\(text) was accepted")
            return
        }
        #expect((id != nil) == hasID)
    }

    @Test func idLongerThan128CharactersIsInvalid() {
        let long = String(repeating: "x", count: 129)
        if case .valid = JobEnvelope.check(Array(#"{"id":"\#(long)","type":"t","payload":{}}"#.utf8), listType: "t") {
            Issue.record("accepted a 129-character id")
        }
        if case .invalid = JobEnvelope.check(Array(#"{"id":"\#(long.dropLast())","type":"t","payload":{}}"#.utf8), listType: "t") {
            Issue.record("refused a 128-character id")
        }
    }

    @Test func redactionReplacesSecretsAndKeepsEveryOtherByte() {
        let raw = #"{"id":"j", "payload":{"authorization_code":"4/abc\"def","nested":{"pass\u0077ord": 12345}, "keep":"password"}}"#
        let redacted = SecretRedaction.redact(Array(raw.utf8))
        #expect(redacted == #"{"id":"j", "payload":{"authorization_code":"[redacted]","nested":{"pass\u0077ord": "[redacted]"}, "keep":"password"}}"#)
        #expect(!redacted.contains("abc"))
        #expect(!redacted.contains("12345"))
        // Unparsable text is returned as is.
        let broken = #"{"password":"hunter2""#
        #expect(SecretRedaction.redact(Array(broken.utf8)) == broken)
    }

    @Test func rfc3339RoundTrip() {
        let date = Date(timeIntervalSince1970: 1_763_719_200.123)
        let text = RFC3339.format(date)
        #expect(text == "2025-11-21T10:00:00.123Z")
        #expect(RFC3339.parse(Array(text.utf8)) == date)
        #expect(RFC3339.parse(Array("2026-02-30T00:00:00Z".utf8)) == nil)
        #expect(RFC3339.parse(Array("2026-13-01T00:00:00Z".utf8)) == nil)
    }
}

@Suite("Producer envelope text")
struct ProducerEnvelopeTests {
    @Test func idsAndTypesAreEscapedByJSONEncoder() throws {
        struct Head: Decodable { let id: String; let type: String; let payload: [String: String] }
        let time = JobQueue.EnqueueTime(Date(timeIntervalSince1970: 0))
        for text in ["plain", "quote\"", "back\\slash", "ctl\u{1f}", "ünïcödé 🗓", "a/b"] {
            let envelope = JobQueue.envelope(id: text, type: "t", enqueuedAt: time, payload: #"{"k":"v"}"#)
            let decoded = try JSONDecoder().decode(Head.self, from: Data(envelope.utf8))
            #expect(decoded.id == text && decoded.type == "t" && decoded.payload == ["k": "v"])
        }
    }

    @Test func anEncodablePayloadGivesTheSameTextAsARawOne() throws {
        struct Payload: Encodable {
            let memberID: String
            enum CodingKeys: String, CodingKey { case memberID = "member_id" }
        }
        let time = JobQueue.EnqueueTime(Date(timeIntervalSince1970: 1_800_000_000.123))
        let encoded = try JobQueue.envelope(id: "j/1", type: "import_window", enqueuedAt: time, payload: Payload(memberID: "m\"1"))
        #expect(encoded == JobQueue.envelope(id: "j/1", type: "import_window", enqueuedAt: time, payload: #"{"member_id":"m\"1"}"#))
        #expect(encoded == #"{"enqueued_at":"2027-01-15T08:00:00.123Z","id":"j/1","type":"import_window","payload":{"member_id":"m\"1"}}"#)
    }

    @Test func anEnvelopeWithAPreformattedTimeEqualsTheOneFormattedEachTime() {
        let date = Date(timeIntervalSince1970: 1_800_000_000.123)
        let once = JobQueue.EnqueueTime(date)
        #expect(
            JobQueue.envelope(id: "j1", type: "import_window", enqueuedAt: once, payload: "{}")
                == JobQueue.envelope(id: "j1", type: "import_window", enqueuedAt: date, payload: "{}"))
        #expect(JobQueue.envelope(id: "j1", type: "t", enqueuedAt: date, payload: "{}").contains(#""enqueued_at":"2027-01-15T08:00:00.123Z""#))
    }
}
