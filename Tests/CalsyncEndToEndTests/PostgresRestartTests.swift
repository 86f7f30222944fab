import CalsyncRedis
import CalsyncTestSupport
import Foundation
import Logging
import Testing

@Suite("PostgreSQL restart under a running worker")
struct PostgresRestartTests {
    @Test("the worker keeps running through a PostgreSQL restart and still processes jobs", .timeLimit(.minutes(1)))
    func workerSurvivesRestart() async throws {
        let servers = try await PrivateServers.start()
        do {
            try await check(servers)
        } catch {
            await servers.stop()
            throw error
        }
        await servers.stop()
    }

    private func check(_ servers: PrivateServers) async throws {
        let prefix = TestEnvironment.uniqueName("pgrestart")
        let env: [String: String] = [
            "CALSYNC_REDIS_URL": servers.redisURL, "CALSYNC_REDIS_PREFIX": prefix,
            "CALSYNC_DATABASE_URL": servers.databaseURL,
            "CALSYNC_ENCRYPTION_KEY": Data(repeating: 3, count: 32).base64EncodedString(),
            "CALSYNC_METRICS_PORT": "0", "CALSYNC_SHUTDOWN_GRACE_SECONDS": "2", "CALSYNC_JOB_LEASE_SECONDS": "5",
        ]
        #expect(try await CLIProcess.run(["migrate"], environment: env).status == 0)
        let redis = RedisClient.running(
            configuration: try RedisConfiguration(url: servers.redisURL), logger: Logger(label: "test"), poolSize: 1)
        defer { redis.close() }
        func done() async throws -> [String] {
            (try await redis.send(["LRANGE", "\(prefix):diag:done", "0", "-1"]).array ?? []).compactMap(\.string)
        }

        let worker = try CLIProcess(["worker", "--diagnostic-jobs"], environment: env)
        #expect(try await CLIProcess.run(["enqueue", "diag_echo", "--payload", "{}", "--id", "before"], environment: env).status == 0)
        #expect(try await cliEventually { try await done().contains("before") }, "stderr: \(worker.stderrSoFar)")

        try await servers.restartPostgres()
        // Give the pool's keep-alive and reconnect a moment to run into the restart.
        try await Task.sleep(for: .milliseconds(500))
        #expect(worker.isRunning, "the worker exited after the restart: \(worker.stderrSoFar)")

        #expect(try await CLIProcess.run(["enqueue", "diag_echo", "--payload", "{}", "--id", "after"], environment: env).status == 0)
        #expect(try await cliEventually { try await done().contains("after") }, "stderr: \(worker.stderrSoFar)")
        #expect(worker.isRunning)
        // PostgreSQL answers the worker's tools again, too.
        #expect(try await CLIProcess.run(["migrate"], environment: env).stdout.contains("up to date"))

        worker.terminate()
        let exit = try await worker.wait()
        #expect(exit.status == 0, "worker stderr: \(exit.stderr)")
    }
}
