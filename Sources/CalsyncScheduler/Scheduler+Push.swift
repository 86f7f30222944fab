import CalsyncJobs
import CalsyncQueue
import CalsyncStore
import CalsyncSync
import Foundation
import Metrics

extension Scheduler {
    /// Push channel upkeep in a tick (only with `CALSYNC_PUBLIC_URL` set): connections whose channels expired
    /// unrenewed, or whose Google channel never delivered its `sync` message, fall back to polling at once; connections never tried, near expiry, or whose push failed or was off
    /// 5 minutes ago (a reconnect after a disconnect) get a `renew_push` job (one pending per connection). Returns jobs enqueued plus fallbacks.
    func maintainPushChannels(enqueuedAt: JobQueue.EnqueueTime, epoch: Int) async throws -> Int {
        let push = configuration.push
        guard push.publicURL != nil else { return 0 }
        var total = try await store.expireLapsedPush()
        total += try await store.expireSilentPush(syncTimeoutSeconds: push.syncTimeoutSeconds)
        while isLeader {
            try Task.checkCancellation()
            let due = try await store.claimDuePushWork(
                renewBeforeSeconds: push.renewBeforeSeconds, retryAfterSeconds: 300, limit: configuration.batchSize)
            let items = try due.compactMap { work -> PendingJob? in
                guard let provider = ProviderKind(rawValue: work.provider) else { return nil }
                return PendingJob(
                    marker: "\(configuration.prefix):pending:renew_push:\(work.memberID):\(work.provider)",
                    ttlSeconds: 10,
                    envelope: try JobQueue.envelope(
                        id: followUpJobID("sched-push-\(work.memberID)-\(work.provider)-\(epoch)"),
                        type: RenewPushPayload.jobType, enqueuedAt: enqueuedAt,
                        payload: RenewPushPayload(memberID: work.memberID, provider: provider)))
            }
            let pushed = try await pushUnlessPending(items, type: RenewPushPayload.jobType)
            Counter(label: "calsync.scheduler.enqueued", dimensions: [("type", RenewPushPayload.jobType)]).increment(by: pushed)
            total += pushed
            if due.count < configuration.batchSize { break }
        }
        return total
    }
}
