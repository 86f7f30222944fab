import CalsyncJobs
import Foundation
import Logging

/// `refresh_token`: refreshes a connection's access token ahead of its expiry (or at once with `force`).
package struct RefreshTokenHandler: JobHandler {
    package let jobType = RefreshTokenPayload.jobType
    let environment: SyncEnvironment

    /// Creates the handler.
    package init(environment: SyncEnvironment) { self.environment = environment }

    package func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        let payload = try decodePayload(RefreshTokenPayload.self, job)
        let env = environment
        var logger = context.logger
        logger[metadataKey: LogKey.memberID] = "\(payload.memberID)"
        guard let member = try await env.store.memberState(payload.memberID) else { throw unknownMember(payload.memberID) }
        guard member.eligible else { return .skipped("ineligible") }
        guard let connection = member.connection(payload.provider), connection.status == .active else {
            return .skipped("not_connected")
        }
        let client = try env.client(for: connection.provider)
        guard let sealed = connection.credentials else { return .skipped("no_credentials") }
        let current = try env.openCredentials(sealed, connection: connection)
        guard payload.force || current.expires(within: env.configuration.refreshMargin) else { return .skipped("not_due") }
        do {
            _ = try await env.refresh(connection, client: client, replacing: current.accessToken, logger: logger)
        } catch let error as ProviderError {
            throw try await env.providerFailure(error, connection: connection, direction: .inbound, logger: logger)
        } catch is ReconnectRequired {
            return .skipped("reconnect_required")
        }
        await env.replayParkedChanges(member, logger: logger)
        return .completed
    }
}
