import CalsyncStore
import CalsyncTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

/// A private schema on the test server, with the client running, for one test.
struct TestDatabase {
    let database: Database
    let schema: String
    let logger: Logger

    var client: PostgresClient { database.client }

    /// Runs `body` with a fresh schema (`migrated`: migrations applied first); drops the schema afterwards.
    /// `configure` adjusts the client's settings (e.g. short timeouts).
    static func with<T: Sendable>(
        migrated: Bool = true, url: String = TestEnvironment.databaseURL,
        configure: (inout DatabaseConfiguration) -> Void = { _ in },
        _ body: @Sendable (TestDatabase) async throws -> T
    ) async throws -> T {
        let schema = TestEnvironment.uniqueName("store")
        var configuration = try DatabaseConfiguration(url: url, schema: schema)
        configuration.maximumConnections = 4
        configure(&configuration)
        var logger = Logger(label: "calsync.test.store")
        logger.logLevel = .error
        do {
            try await Database.checkConnectivity(configuration: configuration, timeout: .seconds(5), logger: logger)
        } catch {
            Issue.record(Comment(rawValue: TestEnvironment.missingServer("PostgreSQL", url: url, underlying: error)))
            throw error
        }
        let database = Database(configuration: configuration, logger: logger)
        let test = TestDatabase(database: database, schema: schema, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            do {
                if migrated { _ = try await Migrator(database: database, logger: logger).migrate() }
                let result = try await body(test)
                try await test.dropSchema()
                return result
            } catch {
                try? await test.dropSchema()
                throw error
            }
        }
    }

    func dropSchema() async throws {
        // A test may have set a short statement timeout on every connection: dropping many tables can take longer.
        try await client.withConnection { connection in
            try await connection.query("SET statement_timeout = 0", logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE"), logger: logger)
        }
    }

    /// Runs one statement with binds and returns nothing.
    func execute(_ query: PostgresQuery) async throws {
        try await client.query(query, logger: logger)
    }
}

extension AsyncSequence {
    /// Every element, in order.
    func collectAll() async throws -> [Element] {
        var all: [Element] = []
        for try await element in self { all.append(element) }
        return all
    }
}
