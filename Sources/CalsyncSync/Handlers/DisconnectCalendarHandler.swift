import CalsyncJobs
import Foundation
import Logging

/// `disconnect_calendar`: status `disconnected`, credentials erased, the connection's busy blocks deleted.
/// Exported events stay in the external calendar and the mappings stay, so a reconnect makes no duplicates.
/// It waits for the member's running import (the import lock) and wins over jobs already running: the
/// store refuses their later status, credential, busy-block and cursor writes for a disconnected connection.
package struct DisconnectCalendarHandler: JobHandler {
    package let jobType = DisconnectCalendarPayload.jobType
    let environment: SyncEnvironment

    /// Creates the handler.
    package init(environment: SyncEnvironment) { self.environment = environment }

    package func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        let payload = try decodePayload(DisconnectCalendarPayload.self, job)
        let env = environment
        var logger = context.logger
        logger[metadataKey: LogKey.memberID] = "\(payload.memberID)"
        guard payload.actorMemberID == payload.memberID else {
            throw JobError.permanent(
                .forbidden, "member \(payload.actorMemberID) may not disconnect the calendar of member \(payload.memberID)",
                reason: "forbidden")
        }
        guard let member = try await env.store.memberState(payload.memberID) else { throw unknownMember(payload.memberID) }
        guard member.eligible else { return .skipped("ineligible") }
        guard let connection = member.connection(payload.provider), connection.status != .disconnected else {
            return .skipped("not_connected")
        }
        // Never in the middle of the member's import: a held import lock defers this job (no attempt burnt).
        try await env.withLock(importLockKey(payload.memberID), what: "member's import", context: context) {
            try await env.store.disconnect(
                connectionID: connection.id,
                detail: "Disconnected by the member. Connect the calendar again to resume sync.")
        }
        logger.info(
            "calendar disconnected",
            metadata: [LogKey.connectionID: "\(connection.id)", LogKey.provider: "\(payload.provider.rawValue)"])
        await env.publish(
            SyncLifecycleEvent(
                type: "connection.disconnected", memberID: payload.memberID, provider: payload.provider,
                detail: "Your \(payload.provider.displayName) calendar was disconnected."),
            logger: logger)
        return .completed
    }
}
