import Foundation
import CalsyncJobs
import Logging

/// The video meeting an appointment asks for (`appointment.video`, contract §9). The connection's provider
/// decides what it becomes: a Google connection makes a Meet link, a Microsoft one a Teams meeting.
package enum VideoKind: String, Sendable, Hashable, Codable {
    case googleMeet = "google_meet"
    case teams
    case none

    /// Whether a meeting is wanted at all.
    package var wanted: Bool { self != .none }
}

/// What a provider made of a video meeting request.
package enum VideoLinkOutcome: Sendable, Hashable {
    /// The meeting exists: its join URL.
    case link(String)
    /// Asked for, not ready yet (Google's `pending` outlived the bounded re-reads): the next export reads it again.
    case pending
    /// This account cannot have one; the reason, safe for the web tier (`meet_unavailable`, `teams_not_allowed`, …).
    case unavailable(String)
}

/// A video meeting's outcome and the event's version after any write it took.
package struct VideoLinkResult: Sendable, Hashable {
    package var outcome: VideoLinkOutcome
    /// The event's new version when adding the meeting wrote the event (nil: unchanged).
    package var etag: String?

    /// Creates a result.
    package init(outcome: VideoLinkOutcome, etag: String?) {
        self.outcome = outcome
        self.etag = etag
    }
}

extension CalendarProvider {
    /// Providers without video links (CalDAV): nil, and the export says `video_link_unavailable`.
    package func ensureVideoLink(
        _ event: RenderedEvent, key: ExportKey, written: WrittenEvent, calendarID: String, credentials: ProviderCredentials
    ) async throws -> VideoLinkResult? { nil }

    /// The written event with its video meeting when `event` asks for one (see ``ensureVideoLink``).
    package func addingVideoLink(
        to written: WrittenEvent, _ event: RenderedEvent, key: ExportKey, calendarID: String, credentials: ProviderCredentials
    ) async throws -> WrittenEvent {
        guard event.video?.wanted == true else { return written }
        var result = written
        let video = try await ensureVideoLink(event, key: key, written: written, calendarID: calendarID, credentials: credentials)
        result.video = video ?? VideoLinkResult(outcome: .unavailable("provider_has_no_video_links"), etag: nil)
        if let etag = video?.etag { result.etag = etag }
        return result
    }
}

extension SyncEnvironment {
    /// The join URL to record for an export and the events to publish once it is recorded: `appointment.video_link`
    /// for a URL not recorded before, `appointment.video_link_unavailable` when the account cannot have one.
    func videoLink(
        _ written: WrittenEvent?, previous: String?, memberID: String, appointmentID: String, provider: ProviderKind
    ) -> (url: String?, events: [SyncLifecycleEvent]) {
        guard let video = written?.video else { return (previous, []) }
        switch video.outcome {
        case .link(let url):
            guard url != previous else { return (url, []) }
            var event = SyncLifecycleEvent(
                type: "appointment.video_link", memberID: memberID, provider: provider, detail: "the appointment's video link")
            event.fields = ["appointment_id": appointmentID, "url": url]
            return (url, [event])
        case .pending:
            return (previous, [])
        case .unavailable(let reason):
            var event = SyncLifecycleEvent(
                type: "appointment.video_link_unavailable", memberID: memberID, provider: provider,
                detail: "the event was exported without a video link: \(reason)")
            event.fields = ["appointment_id": appointmentID, "reason": reason]
            return (previous, [event])
        }
    }

    /// Publishes events after the export was recorded; a failure is logged, never fatal.
    func publishAll(_ list: [SyncLifecycleEvent], logger: Logger) async {
        for event in list {
            do { try await events.publish(event) } catch {
                logger.warning("could not publish \(event.type)", metadata: [LogKey.error: "\(SafeText.describe(error))"])
            }
        }
    }
}
