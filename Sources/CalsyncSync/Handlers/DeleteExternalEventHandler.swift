import CalsyncQueue
import Foundation
import Logging

/// `delete_external_event`: removes an appointment's event from a member's calendar and records the
/// revision, so that an older export arriving later does nothing.
public struct DeleteExternalEventHandler: JobHandler {
    public let jobType = DeleteExternalEventPayload.jobType
    let environment: SyncEnvironment

    /// Creates the handler.
    public init(environment: SyncEnvironment) { self.environment = environment }

    public func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        let payload = try decodePayload(DeleteExternalEventPayload.self, job)
        let env = environment
        var logger = context.logger
        logger[metadataKey: "calsync.member.id"] = "\(payload.memberID)"
        guard let member = try await env.store.memberState(payload.memberID) else { throw unknownMember(payload.memberID) }
        let parked = ParkedChange(
            memberID: payload.memberID, appointmentID: payload.appointmentID, revision: payload.revision, kind: .delete,
            payload: job.payload, endsAt: nil, reason: "")
        guard member.eligible else {
            try await env.store.park(with(parked, reason: "ineligible"))
            return .skipped("ineligible")
        }

        let outcome: JobOutcome = try await env.withLock(
            "appointment:\(payload.memberID):\(payload.appointmentID)", what: "appointment", context: context
        ) {
            let state = try await env.store.exportState(memberID: payload.memberID, appointmentID: payload.appointmentID)
            if let state, state.appliedRevision >= payload.revision { return .skipped("stale_revision") }
            let tombstone = ExportState(
                appliedRevision: payload.revision, connectionID: state?.connectionID, calendarID: state?.calendarID,
                externalEventID: nil, contentHash: nil, eventPresent: false)
            // The event lives where it was exported; with no record, where it would have been exported.
            let connection = state?.connectionID.flatMap { id in member.connections.first { $0.id == id } }
                ?? member.exportConnection
            if state?.eventPresent == false || connection == nil {
                // Nothing of ours is in any calendar: record the revision only (a later, older export does nothing).
                let applied = try await env.store.recordExport(
                    memberID: payload.memberID, appointmentID: payload.appointmentID, revision: payload.revision,
                    state: tombstone, calledConnectionID: nil)
                return applied ? .completed : .skipped("stale_revision")
            }
            guard let connection, connection.status == .active,
                let calendarID = state?.calendarID ?? connection.exportCalendarID
            else {
                try await env.store.park(with(parked, reason: connection?.status.rawValue ?? "not_connected"))
                return .skipped(connection?.status.rawValue ?? "not_connected")
            }
            let client = try env.client(for: connection.provider)
            let key = ExportKey(memberID: payload.memberID, appointmentID: payload.appointmentID)
            do {
                try await env.callProvider(connection, client: client, logger: logger) { credentials in
                    try await client.deleteEvent(
                        key: key, calendarID: calendarID, knownEventID: state?.externalEventID, credentials: credentials)
                }
            } catch let error as ProviderError {
                throw try await env.providerFailure(error, connection: connection, direction: .outbound, logger: logger)
            } catch is ReconnectRequired {
                try await env.store.park(with(parked, reason: "reconnect_required"))
                return .skipped("reconnect_required")
            }
            var done = tombstone
            done.connectionID = connection.id
            done.calendarID = calendarID
            let applied = try await env.store.recordExport(
                memberID: payload.memberID, appointmentID: payload.appointmentID, revision: payload.revision,
                state: done, calledConnectionID: connection.id)
            return applied ? .completed : .skipped("stale_revision")
        }
        await env.replayParkedChanges(member, logger: logger)
        return outcome
    }
}
