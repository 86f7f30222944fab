import CalsyncJobs
import Foundation
import Logging

/// `export_appointment`: brings the member's external calendar in line with one revision of an appointment.
package struct ExportAppointmentHandler: JobHandler {
    package let jobType = ExportAppointmentPayload.jobType
    let environment: SyncEnvironment

    /// Creates the handler.
    package init(environment: SyncEnvironment) { self.environment = environment }

    package func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        let payload = try decodePayload(ExportAppointmentPayload.self, job)
        let appointment = payload.appointment
        let env = environment
        var logger = context.logger
        logger[metadataKey: LogKey.memberID] = "\(payload.memberID)"
        let parked = ParkedChange(
            memberID: payload.memberID, appointmentID: appointment.id, revision: appointment.revision, kind: .export,
            payload: job.payload, endsAt: appointment.endsAt.date, reason: "")

        // The appointment's lock first, then the member and the appointment's export state in one read.
        let (outcome, member): (JobOutcome, MemberSyncState) = try await env.withLock(
            "appointment:\(payload.memberID):\(appointment.id)", what: "appointment", context: context
        ) {
            guard let (member, fence) = try await env.store.memberState(
                payload.memberID, exportOf: appointment.id, revision: appointment.revision)
            else {
                throw unknownMember(payload.memberID)
            }
            let state = fence.state
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
            if let state, state.appliedRevision > appointment.revision { return (.skipped("stale_revision"), member) }
            // The applied revision again: only to verify it, once older writes can no longer land.
            let verifying = state?.appliedRevision == appointment.revision
            if verifying, state?.verifyAfter == nil { return (.skipped("stale_revision"), member) }
            let pending = env.pendingVerification(fence, client: client)
            if verifying, let pending, pending > Date() { throw env.verifyLater(pending) }
            guard let calendarID = connection.exportCalendarID else {
                throw JobError.permanent(
                    .noExportCalendar, "the connection has no export calendar; reconnect the calendar to choose one",
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
            // An older write that may still land means the event cannot be trusted to show what was recorded.
            let mustWrite = pending != nil

            var next = ExportState(
                appliedRevision: appointment.revision, connectionID: connection.id, calendarID: calendarID,
                externalEventID: sameTarget ? state?.externalEventID : nil, contentHash: nil, eventPresent: false)
            // The version calsync last wrote: updates and deletes are conditional on it, so a request of an older
            // revision that lands late is refused by the provider.
            let knownETag = sameTarget ? state?.etag : nil
            var write: (token: String, startedAt: Date)?
            var writtenEvent: WrittenEvent?
            do {
                if snapshot.wantsEvent {
                    var rendered = EventRenderer.render(snapshot, details: connection.eventDetails, key: key)
                    rendered.video = appointment.video
                    rendered.revision = appointment.revision
                    let hash = rendered.contentHash
                    if !mustWrite, let state, sameTarget, state.eventPresent, state.contentHash == hash {
                        // Nothing the provider shows changed (e.g. status only): no write.
                        next.contentHash = hash
                        next.eventPresent = true
                        next.etag = state.etag
                    } else {
                        let knownID = next.externalEventID
                        let done = try await env.fencedWrite(key, revision: appointment.revision) {
                            try await env.callProvider(connection, client: client, logger: logger) { credentials in
                                let written = try await client.upsertEvent(
                                    rendered, key: key, calendarID: calendarID, knownEventID: knownID, knownETag: knownETag,
                                    credentials: credentials)
                                // A late create of an older revision may have made a second event: keep only ours.
                                if mustWrite {
                                    try await client.removeStrayEvents(
                                        key: key, calendarID: calendarID, keeping: written.id, credentials: credentials)
                                }
                                // The video meeting (contract §9): made once, kept by later writes.
                                return try await client.addingVideoLink(
                                    to: written, rendered, key: key, calendarID: calendarID, credentials: credentials)
                            }
                        }
                        write = (done.token, done.startedAt)
                        writtenEvent = done.value
                        next.externalEventID = done.value.id
                        next.etag = done.value.etag
                        next.contentHash = hash
                        next.eventPresent = true
                    }
                } else if mustWrite || state == nil || state?.eventPresent == true || !sameTarget {
                    // Cancelled or no longer busy: remove the event (a missing one counts as removed; the
                    // deterministic key, or the marker when an older write may have landed, also finds an
                    // event created just before a crash or by a create that landed late).
                    let knownID = mustWrite ? nil : next.externalEventID
                    let done = try await env.fencedWrite(key, revision: appointment.revision) {
                        try await env.callProvider(connection, client: client, logger: logger) { credentials in
                            try await client.deleteEvent(
                                key: key, calendarID: calendarID, knownEventID: knownID, knownETag: knownID == nil ? nil : knownETag,
                                credentials: credentials)
                        }
                    }
                    write = (done.token, done.startedAt)
                    next.externalEventID = nil
                }
            } catch let error as ProviderError {
                throw try await env.providerFailure(error, connection: connection, direction: .outbound, logger: logger)
            } catch is ReconnectRequired {
                try await env.store.park(with(parked, reason: "reconnect_required"))
                return (.skipped("reconnect_required"), member)
            }
            // Two-way: the times written and the payload, to tell a member's move and to restore (contract §8).
            if next.eventPresent {
                next.written = DateInterval(start: snapshot.startsAt, end: max(snapshot.endsAt, snapshot.startsAt))
                next.appliedPayload = job.payload
            }
            let video = env.videoLink(
                writtenEvent, previous: sameTarget ? state?.videoURL : nil, memberID: payload.memberID,
                appointmentID: appointment.id, provider: connection.provider)
            next.videoURL = next.eventPresent ? video.url : nil
            // Still pending when an older write could land after this one started.
            if let pending, let write, pending > write.startedAt { next.verifyAfter = pending }
            // A Meet link still pending: no content hash and a re-check later (VideoLink.swift).
            let videoPending = env.videoPending(writtenEvent)
            if videoPending { next.contentHash = nil }
            let recheckVideo = videoPending && context.deferrals < VideoLinkOutcome.pendingRechecks
            if verifying, let seen = state?.verifyAfter, let write {
                let recorded = try await env.store.recordVerification(
                    memberID: payload.memberID, appointmentID: appointment.id, revision: appointment.revision,
                    verifyAfter: seen, state: next, writeToken: write.token)
                if recorded { await env.publishAll(video.events, logger: logger) }
                if recorded, recheckVideo {
                    throw try await env.recheckVideoLater(
                        memberID: payload.memberID, appointmentID: appointment.id, revision: appointment.revision)
                }
                return (recorded ? .completed : .skipped("stale_revision"), member)
            }
            let applied = try await env.store.recordExport(
                memberID: payload.memberID, appointmentID: appointment.id, revision: appointment.revision, state: next,
                calledConnectionID: write == nil ? nil : connection.id, writeToken: write?.token)
            if !applied { return (.skipped("stale_revision"), member) }
            await env.publishAll(video.events, logger: logger)
            if let verifyAfter = next.verifyAfter { throw env.verifyLater(verifyAfter) }
            if recheckVideo {
                throw try await env.recheckVideoLater(
                    memberID: payload.memberID, appointmentID: appointment.id, revision: appointment.revision)
            }
            return (write != nil ? .completed : .skipped("unchanged"), member)
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
