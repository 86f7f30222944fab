import CalsyncQueue
import Foundation
import Logging

/// `export_appointment`: brings the member's external calendar in line with one revision of an appointment.
public struct ExportAppointmentHandler: JobHandler {
    public let jobType = ExportAppointmentPayload.jobType
    let environment: SyncEnvironment

    /// Creates the handler.
    public init(environment: SyncEnvironment) { self.environment = environment }

    public func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        let payload = try decodePayload(ExportAppointmentPayload.self, job)
        let appointment = payload.appointment
        let env = environment
        var logger = context.logger
        logger[metadataKey: "calsync.member.id"] = "\(payload.memberID)"
        let parked = ParkedChange(
            memberID: payload.memberID, appointmentID: appointment.id, revision: appointment.revision, kind: .export,
            payload: job.payload, endsAt: appointment.endsAt.date, reason: "")

        // The appointment's lock first, then the member and the appointment's export state in one read.
        let (outcome, member): (JobOutcome, MemberSyncState) = try await env.withLock(
            "appointment:\(payload.memberID):\(appointment.id)", what: "appointment", context: context
        ) {
            guard let (member, state) = try await env.store.memberState(payload.memberID, exportOf: appointment.id) else {
                throw unknownMember(payload.memberID)
            }
            guard member.eligible else {
                try await env.store.park(with(parked, reason: "ineligible"))
                return (.skipped("ineligible"), member)
            }
            guard let connection = member.exportConnection, connection.status == .active else {
                let reason = member.exportConnection?.status.rawValue ?? "not_connected"
                try await env.store.park(with(parked, reason: reason))
                return (.skipped(reason), member)
            }
            let client = try env.client(for: connection.provider)
            if let state, state.appliedRevision >= appointment.revision { return (.skipped("stale_revision"), member) }
            guard let calendarID = connection.exportCalendarID else {
                throw JobError.permanent(
                    "no_export_calendar", "the connection has no export calendar; reconnect the calendar to choose one",
                    reason: "no_export_calendar")
            }
            let sameTarget = state?.connectionID == connection.id && state?.calendarID == calendarID
            // With no event of ours recorded in this calendar, a create starts a new generation (Graph's transactionId).
            let key = ExportKey(
                memberID: payload.memberID, appointmentID: appointment.id,
                generation: state.flatMap { $0.eventPresent && sameTarget ? nil : $0.appliedRevision })
            let snapshot = AppointmentSnapshot(
                id: appointment.id, revision: appointment.revision, status: appointment.status,
                countsAsBusy: appointment.countsAsBusy, startsAt: appointment.startsAt.date, endsAt: appointment.endsAt.date,
                timeZone: appointment.timeZone, serviceName: appointment.serviceName,
                customerName: appointment.customerName, customerEmail: appointment.customerEmail,
                notes: appointment.notes, location: appointment.location)

            var next = ExportState(
                appliedRevision: appointment.revision, connectionID: connection.id, calendarID: calendarID,
                externalEventID: sameTarget ? state?.externalEventID : nil, contentHash: nil, eventPresent: false)
            var called = false
            do {
                if snapshot.wantsEvent {
                    let rendered = EventRenderer.render(snapshot, details: connection.eventDetails, key: key)
                    let hash = rendered.contentHash
                    if let state, sameTarget, state.eventPresent, state.contentHash == hash {
                        // Nothing the provider shows changed (e.g. status only): no write.
                        next.contentHash = hash
                        next.eventPresent = true
                    } else {
                        called = true
                        let id = try await env.callProvider(connection, client: client, logger: logger) { credentials in
                            try await client.upsertEvent(
                                rendered, key: key, calendarID: calendarID, knownEventID: next.externalEventID,
                                credentials: credentials)
                        }
                        next.externalEventID = id
                        next.contentHash = hash
                        next.eventPresent = true
                    }
                } else if state == nil || state?.eventPresent == true || !sameTarget {
                    // Cancelled or no longer busy: remove the event (a missing one counts as removed; the
                    // deterministic key also finds an event created just before a crash).
                    called = true
                    try await env.callProvider(connection, client: client, logger: logger) { credentials in
                        try await client.deleteEvent(
                            key: key, calendarID: calendarID, knownEventID: next.externalEventID, credentials: credentials)
                    }
                    next.externalEventID = nil
                }
            } catch let error as ProviderError {
                throw try await env.providerFailure(error, connection: connection, direction: .outbound, logger: logger)
            } catch is ReconnectRequired {
                try await env.store.park(with(parked, reason: "reconnect_required"))
                return (.skipped("reconnect_required"), member)
            }
            let applied = try await env.store.recordExport(
                memberID: payload.memberID, appointmentID: appointment.id, revision: appointment.revision, state: next,
                calledConnectionID: called ? connection.id : nil)
            if !applied { return (.skipped("stale_revision"), member) }
            return (called ? .completed : .skipped("unchanged"), member)
        }
        await env.replayParkedChanges(member, logger: logger)
        return outcome
    }
}

func with(_ change: ParkedChange, reason: String) -> ParkedChange {
    var change = change
    change.reason = reason
    return change
}
