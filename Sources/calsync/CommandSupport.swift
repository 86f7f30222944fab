import ArgumentParser
import CalsyncApp
import Foundation
import Logging

/// What every command shares: loading configuration and turning errors into one line and an exit code.
enum CommandSupport {
    /// Runs a command body; a `CalsyncAppError` or `ConfigurationError` becomes one line on stderr and its exit code.
    static func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as CalsyncAppError {
            printError(error.message)
            throw ExitCode(error.exitCode)
        } catch let error as ConfigurationError {
            printError(error.message)
            throw ExitCode(78)
        } catch let error as ExitCode {
            throw error
        } catch let error as CleanExit {
            throw error
        } catch {
            printError("calsync: \(error)")
            throw ExitCode(1)
        }
    }

    /// Loads the configuration a command needs (exit 78 with one line when something is missing or malformed).
    static func configuration(requiring requirements: CalsyncConfiguration.Requirements) async throws
        -> CalsyncConfiguration
    {
        try await CalsyncConfiguration.load(requiring: requirements)
    }

    /// Bootstraps logging for a short-lived command and returns its logger.
    static func logger(_ configuration: CalsyncConfiguration, label: String) -> Logger {
        Observability.bootstrapLogging(configuration.logging)
        return Logger(label: label)
    }

    /// Writes one line to standard error.
    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }
}
