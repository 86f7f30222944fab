import Synchronization

/// Runs work items of concurrent callers in as few round trips as it can (group commit): the first caller
/// runs its item at once; callers that arrive meanwhile queue, and when that run ends the next of them
/// runs everything queued in one call. No timer: a caller alone is run alone, at once. Each caller gets
/// its own item's result, in the order `run` returns them.
package final class CoalescingBatcher<Item: Sendable, Output: Sendable>: Sendable {
    private struct Waiting: Sendable {
        let item: Item
        /// Resumed with the item's result, or with nil: "run the next batch".
        let continuation: CheckedContinuation<Output?, any Error>
    }

    private struct State: Sendable {
        var pending: [Waiting] = []
        var running = false
    }

    private let state = Mutex(State())
    private let maxBatch: Int
    private let run: @Sendable ([Item]) async -> [Result<Output, any Error>]

    /// Creates a batcher; `run` gets 1…`maxBatch` items and returns one result per item, in order.
    package init(maxBatch: Int, run: @escaping @Sendable ([Item]) async -> [Result<Output, any Error>]) {
        self.maxBatch = max(1, maxBatch)
        self.run = run
    }

    /// Runs `item`, alone or with the items of callers waiting at the same time.
    package func submit(_ item: Item) async throws -> Output {
        let leads = state.withLock { state -> Bool in
            if state.running { return false }
            state.running = true
            return true
        }
        if !leads {
            let outcome: Output? = try await withCheckedThrowingContinuation { continuation in
                let queued = state.withLock { state -> Bool in
                    if state.running {
                        state.pending.append(Waiting(item: item, continuation: continuation))
                        return true
                    }
                    state.running = true
                    return false
                }
                if !queued { continuation.resume(returning: nil) }
            }
            if let outcome { return outcome }
        }
        return try await lead(item)
    }

    /// Runs `own` with what is queued, then hands the lead to the first caller that queued meanwhile.
    private func lead(_ own: Item) async throws -> Output {
        let queued = state.withLock { state -> [Waiting] in
            let taken = Array(state.pending.prefix(maxBatch - 1))
            state.pending.removeFirst(taken.count)
            return taken
        }
        var results = await run([own] + queued.map(\.item))
        if results.count != queued.count + 1 {
            results = Array(repeating: .failure(BatchAnswerMismatch()), count: queued.count + 1)
        }
        for (waiting, result) in zip(queued, results.dropFirst()) {
            waiting.continuation.resume(with: result.map { Optional($0) })
        }
        let next = state.withLock { state -> Waiting? in
            if state.pending.isEmpty {
                state.running = false
                return nil
            }
            return state.pending.removeFirst()
        }
        next?.continuation.resume(returning: nil)
        return try results[0].get()
    }
}

/// A batch's `run` returned a different number of results than it was given items.
struct BatchAnswerMismatch: Error, CustomStringConvertible {
    var description: String { "a batched call answered for a different number of items than it was given" }
}
