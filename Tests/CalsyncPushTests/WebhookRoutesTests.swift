import CalsyncSync
import CalsyncWebhooks
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore

import Synchronization
import Testing

/// Runs the webhooks' routes and receiver in process over the doubles.
func withWebhooks(
    store: MemoryPushStore, gate: RecordingGate, maxBodyBytes: Int = 64 * 1024,
    _ body: @Sendable (any TestClientProtocol, WebhookReceiver) async throws -> Void
) async throws {
    let receiver = WebhookReceiver(store: store, gate: gate, capacity: 1000, timeLimit: .seconds(2), logger: testLogger)
    let app = Application(router: WebhookRoutes.router(receiver: receiver, maxBodyBytes: maxBodyBytes), logger: testLogger)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await receiver.run() }
        try await app.test(.router) { client in try await body(client, receiver) }
        group.cancelAll()
    }
}

/// Waits until `condition` holds (at most 3 s).
func eventually(_ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(3)
    while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
}

func googleHeaders(channel: String, token: String?, resource: String?, state: String = "exists") -> HTTPFields {
    var headers = HTTPFields()
    headers[HTTPField.Name("X-Goog-Channel-ID")!] = channel
    if let token { headers[HTTPField.Name("X-Goog-Channel-Token")!] = token }
    if let resource { headers[HTTPField.Name("X-Goog-Resource-ID")!] = resource }
    headers[HTTPField.Name("X-Goog-Resource-State")!] = state
    return headers
}

@Suite("calsync webhooks: checks in process")
struct WebhookRoutesTests {
    @Test("a Google notification is trusted only with a known channel, its token and its resource id; sync only acknowledges")
    func googleChecks() async throws {
        let store = MemoryPushStore()
        try await seedChannels(store)
        let gate = RecordingGate()
        try await withWebhooks(store: store, gate: gate) { client, receiver in
            for (token, resource, state) in [
                ("wrong", "res-1", "exists"), ("google-token", "res-other", "exists"), (nil, "res-1", "exists"),
                ("google-token", "res-1", "sync"),
            ] as [(String?, String?, String)] {
                try await client.execute(
                    uri: "/webhooks/google", method: .post,
                    headers: googleHeaders(channel: "g-chan", token: token, resource: resource, state: state)
                ) { #expect($0.status == .ok) }
            }
            try await client.execute(
                uri: "/webhooks/google", method: .post, headers: googleHeaders(channel: "unknown", token: "google-token", resource: "res-1")
            ) { #expect($0.status == .ok) }
            try await eventually { receiver.outcomeCounts.values.reduce(0, +) >= 5 }
            #expect(gate.notified.withLock { $0 }.isEmpty)
            #expect(receiver.outcomeCounts["refused"] == 4)
            #expect(receiver.outcomeCounts["acknowledged"] == 1)
            try await client.execute(
                uri: "/webhooks/google", method: .post, headers: googleHeaders(channel: "g-chan", token: "google-token", resource: "res-1")
            ) { #expect($0.status == .ok) }
            try await eventually { !gate.notified.withLock { $0 }.isEmpty }
            #expect(gate.notified.withLock { $0 } == ["m1:google"])
        }
    }

    @Test("an expired channel is stale: its notification changes nothing")
    func staleChannel() async throws {
        let store = MemoryPushStore()
        try await seedChannels(store, expiresIn: -1)
        let gate = RecordingGate()
        try await withWebhooks(store: store, gate: gate) { client, receiver in
            try await client.execute(
                uri: "/webhooks/google", method: .post, headers: googleHeaders(channel: "g-chan", token: "google-token", resource: "res-1")
            ) { #expect($0.status == .ok) }
            try await eventually { receiver.outcomeCounts["refused"] == 1 }
            #expect(receiver.outcomeCounts["refused"] == 1)
            #expect(gate.notified.withLock { $0 }.isEmpty)
        }
    }

    @Test("Graph's validation handshake is answered on both URLs: 200 text/plain with the decoded token")
    func graphValidation() async throws {
        try await withWebhooks(store: MemoryPushStore(), gate: RecordingGate()) { client, _ in
            for path in ["/webhooks/microsoft", "/webhooks/microsoft/lifecycle"] {
                try await client.execute(uri: "\(path)?validationToken=Validation%3A%20Testing%20client%20application", method: .post) {
                    #expect($0.status == .ok)
                    #expect($0.headers[.contentType]?.hasPrefix("text/plain") == true)
                    #expect(String(buffer: $0.body) == "Validation: Testing client application")
                }
            }
        }
    }

    @Test("Graph: clientState is checked per item; lifecycle events renew, recreate or import")
    func graphItems() async throws {
        let store = MemoryPushStore()
        try await seedChannels(store)
        let gate = RecordingGate()
        try await withWebhooks(store: store, gate: gate) { client, receiver in
            let body = #"{"value":[{"subscriptionId":"sub-1","clientState":"forged","changeType":"updated"},"#
                + #"{"subscriptionId":"sub-1","clientState":"graph-state","changeType":"updated"}]}"#
            try await client.execute(uri: "/webhooks/microsoft", method: .post, body: ByteBuffer(string: body)) {
                #expect($0.status == .accepted)
            }
            try await eventually { receiver.outcomeCounts.values.reduce(0, +) >= 2 }
            #expect(receiver.outcomeCounts["refused"] == 1)
            #expect(gate.notified.withLock { $0 } == ["m2:microsoft"])
            for event in ["reauthorizationRequired", "subscriptionRemoved", "missed"] {
                let lifecycle = #"{"value":[{"subscriptionId":"sub-1","clientState":"graph-state","lifecycleEvent":"\#(event)"}]}"#
                try await client.execute(uri: "/webhooks/microsoft/lifecycle", method: .post, body: ByteBuffer(string: lifecycle)) {
                    #expect($0.status == .accepted)
                }
            }
            let forged = #"{"value":[{"subscriptionId":"sub-1","clientState":"nope","lifecycleEvent":"subscriptionRemoved"}]}"#
            try await client.execute(uri: "/webhooks/microsoft/lifecycle", method: .post, body: ByteBuffer(string: forged)) {
                #expect($0.status == .accepted)
            }
            try await eventually { gate.notified.withLock { $0.count } >= 3 && gate.channelWork.withLock { $0.count } >= 2 }
            try await Task.sleep(for: .milliseconds(100))
            #expect(gate.channelWork.withLock { $0 } .sorted() == ["m2:microsoft:recreate", "m2:microsoft:renew"])
            #expect(gate.notified.withLock { $0 } == ["m2:microsoft", "m2:microsoft", "m2:microsoft"])
        }
    }

    @Test("unknown paths are 404, bodies over the limit 413, broken Graph bodies 400")
    func boundaries() async throws {
        try await withWebhooks(store: MemoryPushStore(), gate: RecordingGate(), maxBodyBytes: 1024) { client, _ in
            try await client.execute(uri: "/webhooks/caldav", method: .post) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/admin", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(
                uri: "/webhooks/microsoft", method: .post, body: ByteBuffer(string: String(repeating: "x", count: 4096))
            ) { #expect($0.status == .contentTooLarge) }
            try await client.execute(uri: "/webhooks/microsoft", method: .post, body: ByteBuffer(string: "{not json")) {
                #expect($0.status == .badRequest)
            }
        }
    }

    @Test("a slow backend does not slow the answer: every notification is answered within 1 s")
    func slowBackend() async throws {
        // Every check takes 20 s behind the answer; the answers must not wait for them. The median answer is held
        // to 1 s, the slowest to 5 s (tests of other suites share this process's threads on a loaded machine).
        let store = MemoryPushStore(delay: .seconds(20))
        try await seedChannels(store)
        try await withWebhooks(store: store, gate: RecordingGate()) { client, _ in
            var answers: [Duration] = []
            for index in 0..<20 {
                let started = ContinuousClock.now
                try await client.execute(
                    uri: "/webhooks/google", method: .post,
                    headers: googleHeaders(channel: "g-chan-\(index)", token: "google-token", resource: "res-1")
                ) { #expect($0.status == .ok) }
                answers.append(ContinuousClock.now - started)
            }
            answers.sort()
            #expect(answers[answers.count / 2] < .seconds(1), "answers: \(answers)")
            #expect(answers[answers.count - 1] < .seconds(5), "answers: \(answers)")
        }
    }

    @Test("secrets compare by hash; a missing or different secret never matches")
    func secrets() {
        let hash = PushSecret.hash("s3cret")
        #expect(PushSecret.matches("s3cret", storedHash: hash))
        #expect(!PushSecret.matches("s3creT", storedHash: hash))
        #expect(!PushSecret.matches(nil, storedHash: hash))
        #expect(!PushSecret.matches("", storedHash: PushSecret.hash("")))
        #expect(PushSecret.random() != PushSecret.random())
        #expect(PushSecret.random().count == 43)
    }
}
