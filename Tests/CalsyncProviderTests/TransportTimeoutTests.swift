import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import CalsyncHTTP

/// The per-request timeout sleeps on an event-loop timer that a cancellation removes at once.
@Suite("HTTP transport timeout")
struct TransportTimeoutTests {
    @Test func aTimeoutEndsAfterItsTimeAndACancelledOneEndsAtOnce() async throws {
        let loop = NIOSingletons.posixEventLoopGroup.next()
        let started = ContinuousClock.now
        try await HTTPTransport.sleep(for: .milliseconds(50), on: loop)
        #expect(ContinuousClock.now - started >= .milliseconds(45))

        let cancelledAt = ContinuousClock.now
        let sleeper = Task { try await HTTPTransport.sleep(for: .seconds(60), on: loop) }
        try await Task.sleep(for: .milliseconds(20))
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(ContinuousClock.now - cancelledAt < .seconds(5))

        // Cancelled before it starts: it ends at once too.
        let early = Task {
            while !Task.isCancelled { await Task.yield() }
            try await HTTPTransport.sleep(for: .seconds(60), on: loop)
        }
        early.cancel()
        await #expect(throws: CancellationError.self) { try await early.value }
    }
}
