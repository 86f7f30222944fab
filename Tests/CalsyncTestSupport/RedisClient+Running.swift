import CalsyncRedis
import Logging

extension RedisClient {
    /// A client whose `run()` already goes on in a task of its own, until `close()` (which tests call in
    /// a `defer`): for tests and the bench that hold a client across many calls.
    package static func running(configuration: RedisConfiguration, logger: Logger, poolSize: Int = 8) -> RedisClient {
        let client = RedisClient(configuration: configuration, logger: logger, poolSize: poolSize)
        Task { try await client.run() }
        return client
    }
}
