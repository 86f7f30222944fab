/// The job that replays a parked change: what the worker (after a reconnect or any job of the member)
/// and the scheduler (after the organization or connection became usable again) both enqueue.
package struct ParkedReplayJob: Sendable, Hashable {
    /// `export_appointment` or `delete_external_event`.
    package var type: String
    /// A job id derived from the appointment and revision, so one revision replays under one id.
    package var id: String
    /// The parked payload, byte for byte.
    package var payload: [UInt8]
}

extension ParkedChange {
    /// The job that replays this change.
    package var replayJob: ParkedReplayJob {
        ParkedReplayJob(
            type: kind == .export ? ExportAppointmentPayload.jobType : DeleteExternalEventPayload.jobType,
            id: followUpJobID("replay-\(appointmentID)-\(revision)"),
            payload: payload)
    }
}
