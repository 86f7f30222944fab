import CalsyncJobs
import Foundation
import Logging
import PostgresNIO

/// The PostgreSQL client of a calsync process: a pool (`client`, to run as a `Service`) plus a start-up check.
package final class Database: Sendable {
    /// The settings the client was built from.
    package let configuration: DatabaseConfiguration
    /// The pooled postgres-nio client; add it to the process's `ServiceGroup` before anything that queries.
    package let client: PostgresClient
    private let logger: Logger

    /// Creates the client (no connection is opened until `client.run()` and the first query).
    package init(configuration: DatabaseConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.client = PostgresClient(configuration: configuration.clientConfiguration(), backgroundLogger: logger)
    }

    /// Opens one direct connection and runs `SELECT 1`, failing within `timeout` with a message that says what to do.
    ///
    /// The pool retries a refused login forever; this check turns a wrong password, a missing database
    /// or a stopped server into one clear `StoreError.unreachable` at start-up instead.
    package func checkConnectivity(timeout: Duration? = nil) async throws {
        try await Self.checkConnectivity(configuration: configuration, timeout: timeout, logger: logger)
    }

    /// `checkConnectivity` without a pool: for commands that only need to know the server answers.
    package static func checkConnectivity(
        configuration: DatabaseConfiguration, timeout: Duration? = nil, logger: Logger
    ) async throws {
        let limit = timeout ?? configuration.connectTimeout
        let connectionConfiguration: PostgresConnection.Configuration
        do {
            connectionConfiguration = try configuration.connectionConfiguration()
        } catch {
            throw StoreError.unreachable(
                "cannot set up TLS for \(configuration.redactedURL) (\(error)): check sslmode in CALSYNC_DATABASE_URL")
        }
        do {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    let connection = try await PostgresConnection.connect(
                        configuration: connectionConfiguration, id: 1, logger: logger)
                    do {
                        try await connection.query("SELECT 1", logger: logger)
                    } catch {
                        try? await connection.close()
                        throw error
                    }
                    try? await connection.close()
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: limit)
                    return false
                }
                let finished = try await group.next() ?? false
                group.cancelAll()
                if !finished {
                    throw StoreError.unreachable(
                        "PostgreSQL did not answer at \(configuration.redactedURL) within \(limit): "
                            + Self.howToFix)
                }
            }
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.unreachable(
                "cannot connect to PostgreSQL at \(configuration.redactedURL) (\(Self.describe(error))): "
                    + Self.howToFix)
        }
    }

    static let howToFix =
        "start the server (for development: scripts/services.sh start DIR) or set CALSYNC_DATABASE_URL "
        + "to postgres://user[:password]@host:port/db"

    /// A readable one-line reason for a postgres-nio error, without passwords (PSQLError's own description is deliberately vague).
    static func describe(_ error: any Error) -> String {
        if let psql = error as? PSQLError {
            if let message = psql.serverInfo?[.message] {
                return SafeText.line(message)
            }
            if let underlying = psql.underlying {
                let text = "\(underlying)"
                if text.contains("Connection refused") { return "connection refused" }
                return SafeText.line(text)
            }
            return "\(psql.code)"
        }
        return SafeText.describe(error)
    }
}

extension DatabaseConfiguration {
    /// The configuration of one direct connection (the connectivity check; `migrate` with its own `timeouts`).
    func connectionConfiguration(timeouts: Timeouts? = nil) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch sslMode {
        case .disable:
            tls = .disable
        case .require:
            var tlsConfig = TLSConfiguration.makeClientConfiguration()
            tlsConfig.certificateVerification = .none
            tls = .require(try NIOSSLContext(configuration: tlsConfig))
        case .verifyFull:
            tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = .nanoseconds(Int64(connectTimeout.components.seconds) * 1_000_000_000)
        configuration.options.additionalStartupParameters = startupParameters(timeouts: timeouts)
        return configuration
    }
}
