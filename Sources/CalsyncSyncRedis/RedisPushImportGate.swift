import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import CalsyncSync
import Foundation

/// `PushImportGate` on Redis. Per connection, `<prefix>:push:pending:<member>:<provider>` marks an import
/// that was enqueued and has not started; `<prefix>:push:started:…` lives for the debounce after an import
/// started. A notification with the mark set does nothing; otherwise it sets the mark and enqueues one
/// incremental `import_window`: at once, or, while `started` lives, as a scheduled task due when it ends.
/// Each step is one script, so any number of concurrent notifications add at most one import.
package struct RedisPushImportGate: PushImportGate {
    let redis: RedisClient
    let prefix: String
    let debounce: Duration
    /// A mark whose import never started (a crash between enqueue and claim) frees after this.
    let pendingTTL: Duration

    /// KEYS: pending, started, ready list, scheduled set, task hash. ARGV: pending ttl ms, job text, task id.
    /// Returns 0 (coalesced), 1 (enqueued now) or 2 (scheduled after the debounce). A scheduled task is written
    /// as the engine writes a retry (`QueueScripts.fail`): its hash under `<prefix>:task:<tid>` and its due
    /// time in `<prefix>:scheduled:<type>`.
    static let notify = RedisScript(
        """
        if not redis.call('SET', KEYS[1], ARGV[3], 'NX', 'PX', ARGV[1]) then return 0 end
        local wait = redis.call('PTTL', KEYS[2])
        if wait <= 0 then
          redis.call('LPUSH', KEYS[3], ARGV[2])
          return 1
        end
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        redis.call('HSET', KEYS[5], 'raw', ARGV[2], 'type', 'import_window', 'attempts', 0, 'lease_expiries', 0,
          'deferrals', 0, 'fence', '0', 'worker', '')
        redis.call('ZADD', KEYS[4], now + wait, ARGV[3])
        return 2
        """)

    /// KEYS: pending, started. ARGV: debounce ms. (The scheduler's own "already queued" mark is cleared by the
    /// import in PostgreSQL, `connection_schedules.import_queued_until`.)
    static let started = RedisScript(
        """
        redis.call('DEL', KEYS[1])
        if tonumber(ARGV[1]) > 0 then redis.call('SET', KEYS[2], '1', 'PX', ARGV[1]) end
        return 1
        """)

    /// Creates the gate under `prefix` (the queue's prefix: the jobs go to its lists).
    package init(redis: RedisClient, prefix: String, debounce: Duration, pendingTTL: Duration = .seconds(300)) {
        self.redis = redis
        self.prefix = prefix
        self.debounce = debounce
        self.pendingTTL = pendingTTL
    }

    func pendingKey(_ memberID: String, _ provider: ProviderKind) -> String { "\(prefix):push:pending:\(memberID):\(provider.rawValue)" }
    func startedKey(_ memberID: String, _ provider: ProviderKind) -> String { "\(prefix):push:started:\(memberID):\(provider.rawValue)" }

    package func notifyChange(memberID: String, provider: ProviderKind) async throws -> PushNotifyOutcome {
        let tid = "push-" + UUID().uuidString.lowercased()
        let job = try JobQueue.envelope(
            id: tid, type: ImportWindowPayload.jobType, enqueuedAt: JobQueue.EnqueueTime(Date()),
            payload: ImportWindowPayload(memberID: memberID, provider: provider))
        let type = ImportWindowPayload.jobType
        let reply = try await redis.evaluate(
            Self.notify,
            keys: [
                pendingKey(memberID, provider), startedKey(memberID, provider), "\(prefix):queue:\(type)",
                "\(prefix):scheduled:\(type)", "\(prefix):task:\(tid)",
            ],
            args: [String(max(1, pendingTTL.milliseconds)), job, tid])
        switch reply.int {
        case 1: return .enqueued
        case 2: return .delayed
        default: return .coalesced
        }
    }

    package func importStarted(memberID: String, provider: ProviderKind) async throws {
        _ = try await redis.evaluate(
            Self.started,
            keys: [pendingKey(memberID, provider), startedKey(memberID, provider)],
            args: [String(max(0, debounce.milliseconds))])
    }

    package func requestChannelWork(memberID: String, provider: ProviderKind, recreate: Bool, force: Bool) async throws -> Bool {
        let marker = "\(prefix):pending:renew_push:\(memberID):\(provider.rawValue)"
        let claimed = try await redis.send(["SET", marker, "1", "NX", "EX", "10"])
        guard !claimed.isNull else { return false }
        let job = try JobQueue.envelope(
            id: "push-renew-" + UUID().uuidString.lowercased(), type: RenewPushPayload.jobType,
            enqueuedAt: JobQueue.EnqueueTime(Date()),
            payload: RenewPushPayload(memberID: memberID, provider: provider, recreate: recreate, force: force))
        _ = try await redis.send(["LPUSH", "\(prefix):queue:\(RenewPushPayload.jobType)", job])
        return true
    }
}
