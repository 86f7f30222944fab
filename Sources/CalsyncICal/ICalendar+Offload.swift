import Foundation

extension ICalendar {
    /// The one thread libical work runs on: libical runs one call at a time anyway (``LibICal/run(_:)``), and
    /// waiting for it there never holds a thread of Swift's cooperative pool (lease renewals keep running).
    private static let queue: DispatchQueue = {
        let queue = DispatchQueue(label: "calsync.libical", qos: .userInitiated)
        queue.setSpecific(key: onQueue, value: true)
        return queue
    }()
    private static let onQueue = DispatchSpecificKey<Bool>()

    /// Whether the caller runs on calsync's libical thread (what ``offload(_:)`` runs its work on).
    package static var isOnLibicalThread: Bool { DispatchQueue.getSpecific(key: onQueue) == true }

    /// Runs libical work (``busyOccurrences(in:window:memberTimeZone:memberAddresses:limits:)``, ``render(_:)``,
    /// ``inspect(_:limits:)``) on calsync's libical thread and awaits it.
    package static func offload<T: Sendable>(_ work: @escaping @Sendable () throws(ICalError) -> T) async throws(ICalError) -> T {
        let result: Result<T, ICalError> = await withCheckedContinuation { continuation in
            queue.async {
                do throws(ICalError) {
                    continuation.resume(returning: .success(try work()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try result.get()
    }
}
