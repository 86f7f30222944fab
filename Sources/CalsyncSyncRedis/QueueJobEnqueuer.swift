import CalsyncQueue
import CalsyncSync
import Foundation

/// `SyncJobEnqueuer` on the job queue: follow-up jobs go in exactly as a producer's would.
public struct QueueJobEnqueuer: SyncJobEnqueuer {
    let queue: JobQueue

    /// Creates an enqueuer.
    public init(queue: JobQueue) { self.queue = queue }

    public func enqueue(type: String, id: String, payload: [UInt8]) async throws {
        _ = try await queue.enqueue(type: type, payload: String(decoding: payload, as: UTF8.self), id: id)
    }
}
