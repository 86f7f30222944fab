import CalsyncJobs
import CalsyncRedis
import Foundation

/// Publishes what operators do on `<prefix>:events` as `ops.action` (the stream the web tier reads):
/// `type ops.action operator … action … detail … at …`. Details name ids and counts, never a secret.
package struct OpsEvents: Sendable {
    let redis: RedisClient
    let key: String

    /// Creates a publisher to `<prefix>:events`.
    package init(redis: RedisClient, prefix: String) {
        self.redis = redis
        self.key = "\(prefix):events"
    }

    /// Publishes one action.
    package func publish(operatorName: String, action: String, detail: String) async throws {
        _ = try await redis.send([
            "XADD", key, "MAXLEN", "~", "100000", "*", "type", "ops.action", "operator", operatorName, "action", action,
            "detail", detail, "at", RFC3339.formatSeconds(Date()),
        ])
    }
}
