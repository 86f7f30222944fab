import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import Foundation

/// A leader lock in Redis: `SET key replica NX PX ttl` to take it, compare-and-extend to keep it,
/// compare-and-delete to give it up. Only the replica whose id is stored may extend or delete it, so a
/// replica that paused past the TTL cannot take the lock back from its successor.
package struct LeaderLease: Sendable {
    /// The Redis key of the lock.
    package let key: String
    /// This replica's id (stored as the lock's value).
    package let replicaID: String
    /// The lock's lifetime.
    package let ttl: Duration
    let redis: RedisClient

    static let extend = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            return 1
        end
        return 0
        """)

    static let release = RedisScript(
        """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """)

    /// Creates the lease `<prefix>:scheduler:leader` for a replica.
    package init(redis: RedisClient, prefix: String, replicaID: String, ttl: Duration) {
        self.redis = redis
        self.key = "\(prefix):scheduler:leader"
        self.replicaID = replicaID
        self.ttl = ttl
    }

    var milliseconds: String {
        String(max(1, ttl.milliseconds))
    }

    /// Takes the lock when nobody holds it; true when this replica now leads.
    package func acquire() async throws -> Bool {
        let reply = try await redis.send(["SET", key, replicaID, "NX", "PX", milliseconds])
        return !reply.isNull
    }

    /// Extends the lock for another TTL if this replica still holds it; false when it was lost.
    package func renew() async throws -> Bool {
        try await redis.evaluate(Self.extend, keys: [key], args: [replicaID, milliseconds]).int == 1
    }

    /// Deletes the lock if this replica holds it, so another replica takes over at once.
    package func release() async throws {
        _ = try await redis.evaluate(Self.release, keys: [key], args: [replicaID])
    }

    /// The replica id that holds the lock now, if any.
    package func holder() async throws -> String? {
        try await redis.send(["GET", key]).string
    }
}
