import CalsyncJobs
import Foundation
import Logging

/// `delete_external_event`: removes an appointment's event from a member's calendar and records the
/// revision, so that an older export arriving later does nothing.
package struct DeleteExternalEventHandler: JobHandler {
    package let jobType = DeleteExternalEventPayload.jobType
    let environment: SyncEnvironment

    /// Creates the handler.
    package init(environment: SyncEnvironment) { self.environment = environment }

    package func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        let payload = try decodePayload(DeleteExternalEventPayload.self, job)
        let env = environment
        var logger = context.logger
        logger[metadataKey: LogKey.memberID] = "\(payload.memberID)"
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
            let fence = try await env.store.exportState(
                memberID: payload.memberID, appointmentID: payload.appointmentID, revision: payload.revision)
            let state = fence.state
            if let state, state.appliedRevision > payload.revision { return .skipped("stale_revision") }
            // The applied revision again: only to verify it, once older writes can no longer land.
            let verifying = state?.appliedRevision == payload.revision
            if verifying, state?.verifyAfter == nil { return .skipped("stale_revision") }
            // An earlier attempt of this delete cannot make an event: only older revisions' writes count.
            let pending = env.pendingVerification(fence, client: nil)
            if verifying, let pending, pending > Date() { throw env.verifyLater(pending) }
            let mustWrite = pending != nil
            let tombstone = ExportState(
                appliedRevision: payload.revision, connectionID: state?.connectionID, calendarID: state?.calendarID,
                externalEventID: nil, contentHash: nil, eventPresent: false)
            // The event lives where it was exported; with no record, where it would have been exported.
            let connection = state?.connectionID.flatMap { id in member.connections.first { $0.id == id } }
                ?? member.exportConnection
            if (!mustWrite && state?.eventPresent == false) || connection == nil {
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
            // When an older write may have landed, the event is looked up by its marker (a late create has an id we never saw).
            let knownID = mustWrite ? nil : state?.externalEventID
            let write: FencedWrite<Void>
            do {
                write = try await env.fencedWrite(key, revision: payload.revision) {
                    try await env.callProvider(connection, client: client, logger: logger) { credentials in
                        try await client.deleteEvent(
                            key: key, calendarID: calendarID, knownEventID: knownID, knownETag: knownID == nil ? nil : state?.etag,
                            credentials: credentials)
                    }
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
            if let pending, pending > write.startedAt { done.verifyAfter = pending }
            if verifying, let seen = state?.verifyAfter {
                let recorded = try await env.store.recordVerification(
                    memberID: payload.memberID, appointmentID: payload.appointmentID, revision: payload.revision,
                    verifyAfter: seen, state: done, writeToken: write.token)
                return recorded ? .completed : .skipped("stale_revision")
            }
            let applied = try await env.store.recordExport(
                memberID: payload.memberID, appointmentID: payload.appointmentID, revision: payload.revision,
                state: done, calledConnectionID: connection.id, writeToken: write.token)
            if !applied { return .skipped("stale_revision") }
            if let verifyAfter = done.verifyAfter { throw env.verifyLater(verifyAfter) }
            return .completed
        }
        await env.replayParkedChanges(member, logger: logger)
        return outcome
    }
}
