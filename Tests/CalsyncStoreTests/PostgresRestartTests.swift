import CalsyncStore
import CalsyncTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

@Suite("PostgreSQL restart")
struct PostgresRestartTests {
    @Test("the client reconnects by itself after the server restarts", .timeLimit(.minutes(1)))
    func reconnects() async throws {
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
        var configuration = try DatabaseConfiguration(url: servers.databaseURL)
        configuration.maximumConnections = 2
        let logger = Logger(label: "calsync.test.restart")
        try await Database.checkConnectivity(configuration: configuration, timeout: .seconds(5), logger: logger)
        let database = Database(configuration: configuration, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            let before = try await database.client.query("SELECT 1").decode(Int.self).collectAll()
            #expect(before == [1])

            try await servers.restartPostgres()

            // Queries may fail while the pool notices the dead connections; they must succeed again soon.
            let deadline = ContinuousClock.now + .seconds(15)
            var recovered = false
            while ContinuousClock.now < deadline {
                if let value = try? await database.client.query("SELECT 2").decode(Int.self).collectAll(), value == [2] {
                    recovered = true
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(recovered, "queries still fail 15 s after PostgreSQL restarted")
        }
    }
}
