import CalsyncQueue
import CalsyncSync
import Foundation

/// `SyncJobEnqueuer` on the job queue: follow-up jobs go in exactly as a producer's would.
package struct QueueJobEnqueuer: SyncJobEnqueuer {
    let queue: JobQueue

    /// Creates an enqueuer.
    package init(queue: JobQueue) { self.queue = queue }

    package func enqueue(type: String, id: String, payload: [UInt8]) async throws {
        _ = try await queue.enqueue(type: type, payload: String(decoding: payload, as: UTF8.self), id: id)
    }
}
