import Foundation
import Synchronization
import Testing

@testable import CalsyncJobs

/// Concurrent callers share calls; each gets its own item's answer; a caller alone runs alone.
@Suite("Coalescing batcher")
struct CoalescingBatcherTests {
    final class Calls: Sendable {
        let sizes = Mutex<[Int]>([])
    }

    @Test func aCallerAloneRunsAloneAndAtOnce() async throws {
        let calls = Calls()
        let batcher = CoalescingBatcher<Int, Int>(maxBatch: 10) { items in
            calls.sizes.withLock { $0.append(items.count) }
            return items.map { .success($0 * 2) }
        }
        #expect(try await batcher.submit(21) == 42)
        #expect(try await batcher.submit(5) == 10)
        #expect(calls.sizes.withLock { $0 } == [1, 1])
    }

    @Test func concurrentCallersShareCallsAndGetTheirOwnAnswers() async throws {
        let calls = Calls()
        let batcher = CoalescingBatcher<Int, Int>(maxBatch: 16) { items in
            calls.sizes.withLock { $0.append(items.count) }
            try? await Task.sleep(for: .milliseconds(5))  // a round trip, while others queue
            return items.map { $0 % 7 == 0 ? .failure(Odd(value: $0)) : .success($0 * 2) }
        }
        let answers = await withTaskGroup(of: (Int, Int?).self) { group in
            for value in 1...200 {
                group.addTask { (value, try? await batcher.submit(value)) }
            }
            var all: [Int: Int?] = [:]
            for await (value, answer) in group { all[value] = answer }
            return all
        }
        #expect(answers.count == 200)
        for (value, answer) in answers {
            #expect(answer == (value % 7 == 0 ? nil : value * 2), "\(value)")
        }
        let sizes = calls.sizes.withLock { $0 }
        #expect(sizes.reduce(0, +) == 200)
        #expect(sizes.allSatisfy { $0 <= 16 })
        #expect(sizes.count < 100, "callers waiting at the same time share calls: \(sizes)")
    }

    @Test func aWrongNumberOfAnswersFailsEveryCallerOfThatCall() async throws {
        let batcher = CoalescingBatcher<Int, Int>(maxBatch: 4) { _ in [] }
        await #expect(throws: (any Error).self) { try await batcher.submit(1) }
    }

    struct Odd: Error { let value: Int }
}
