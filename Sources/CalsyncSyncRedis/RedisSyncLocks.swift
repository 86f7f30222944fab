import CalsyncJobs
import CalsyncRedis
import CalsyncSync
import Foundation

/// `SyncLocks` on Redis: `SET key token NX PX ttl`, released only by the token that took it.
package struct RedisSyncLocks: SyncLocks {
    let redis: RedisClient
    let prefix: String

    static let release = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """)

    /// Creates locks under `<prefix>:lock:`.
    package init(redis: RedisClient, prefix: String) {
        self.redis = redis
        self.prefix = prefix
    }

    package func acquire(_ key: String, ttl: Duration) async throws -> SyncLockToken? {
        let token = SyncLockToken(key: "\(prefix):lock:\(key)", token: JobLock.randomToken())
        let reply = try await redis.send(["SET", token.key, token.token, "NX", "PX", String(max(1, ttl.milliseconds))])
        return reply.isNull ? nil : token
    }

    package func release(_ token: SyncLockToken) async throws {
        _ = try await redis.evaluate(Self.release, keys: [token.key], args: [token.token])
    }

    /// These locks live in the queue's Redis: the engine releases them with the job's acknowledgement.
    package var releasedWithJob: Bool { true }
}

/// `SyncEventPublisher` on a Redis stream: `XADD <prefix>:events MAXLEN ~ 100000 * type … member_id … provider … at … detail …`.
package struct RedisSyncEvents: SyncEventPublisher {
    let redis: RedisClient
    let key: String

    /// Creates a publisher to `<prefix>:events`.
    package init(redis: RedisClient, prefix: String) {
        self.redis = redis
        self.key = "\(prefix):events"
    }

    package func publish(_ event: SyncLifecycleEvent) async throws {
        let at = RFC3339.formatSeconds(event.at)
        _ = try await redis.send(
            [
                "XADD", key, "MAXLEN", "~", "100000", "*",
                "type", event.type, "member_id", event.memberID, "provider", event.provider.rawValue, "at", at,
                "detail", event.detail,
            ] + event.fields.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] })
    }
}
