import CalsyncRedis
import CalsyncStore
import Logging

/// Start-up checks that turn an unreachable Redis or PostgreSQL into one clear line (exit 69).
package enum ServiceChecks {
    /// `redis://host:port/db` without the password, for messages.
    package static func redactedRedisURL(_ configuration: RedisConfiguration) -> String {
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        let auth = configuration.password == nil ? "" : "\(configuration.username ?? ""):***@"
        return "redis://\(auth)\(host):\(configuration.port)/\(configuration.database)"
    }

    /// PINGs Redis through a client of its own (run for the check); throws `CalsyncAppError.unavailable`
    /// naming the URL and how to start it.
    package static func checkRedis(_ configuration: RedisConfiguration, logger: Logger) async throws {
        let probe = RedisClient(configuration: configuration, logger: logger, poolSize: 1)
        do {
            _ = try await probe.withRunning { try await probe.send(["PING"]) }
        } catch {
            let reason = (error as? RedisError)?.message ?? "\(error)"
            throw CalsyncAppError.unavailable(
                "Redis is not reachable at \(redactedRedisURL(configuration)) (\(reason)): start it "
                    + "(for development: scripts/services.sh start DIR) or set CALSYNC_REDIS_URL")
        }
    }

    /// Checks PostgreSQL with one direct connection; throws `CalsyncAppError.unavailable` with the store's message.
    package static func checkDatabase(_ configuration: DatabaseConfiguration, logger: Logger) async throws {
        do {
            try await Database.checkConnectivity(configuration: configuration, logger: logger)
        } catch let error as StoreError {
            throw CalsyncAppError.unavailable(error.message)
        }
    }
}
