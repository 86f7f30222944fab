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
    /// Asked for, not ready yet (Google's `pending` outlived the bounded re-reads): read again later (no content hash
    /// is stored, and the export is re-checked after ``pendingRecheckDelay``).
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

    /// Publishes events after the export was recorded; a failure is logged, never fatal. A published
    /// `appointment.video_link` is marked so; an unmarked one is published again by the member's next import.
    func publishAll(_ list: [SyncLifecycleEvent], logger: Logger) async {
        for event in list {
            do {
                try await events.publish(event)
                if event.type == "appointment.video_link", let appointmentID = event.fields["appointment_id"],
                    let url = event.fields["url"]
                {
                    try await store.markVideoLinkPublished(memberID: event.memberID, appointmentID: appointmentID, url: url)
                }
            } catch {
                logger.warning("could not publish \(event.type)", metadata: [LogKey.error: "\(SafeText.describe(error))"])
            }
        }
    }

    /// Publishes the member's recorded join URLs whose `appointment.video_link` was never published (the
    /// publish failed or the worker stopped first); at least once, never fatal.
    func publishUnpublishedVideoLinks(memberID: String, logger: Logger) async {
        do {
            let links = try await store.unpublishedVideoLinks(memberID: memberID)
            await publishAll(
                links.map { link in
                    var event = SyncLifecycleEvent(
                        type: "appointment.video_link", memberID: link.memberID, provider: link.provider,
                        detail: "the appointment's video link")
                    event.fields = ["appointment_id": link.appointmentID, "url": link.url]
                    return event
                }, logger: logger)
        } catch {
            logger.warning("could not read unpublished video links", metadata: [LogKey.error: "\(SafeText.describe(error))"])
        }
    }

    /// Whether the export wrote an event whose Meet link is still pending: it then stores no content hash (the
    /// next export writes and reads the link again) and is re-checked later (``recheckVideoLater``).
    func videoPending(_ written: WrittenEvent?) -> Bool {
        if case .pending? = written?.video?.outcome { return true }
        return false
    }

    /// Marks the applied revision to be written again and defers the job until then, so the pending Meet link is
    /// read again (at most ``VideoLinkOutcome/pendingRechecks`` times per job).
    func recheckVideoLater(memberID: String, appointmentID: String, revision: Int64) async throws -> JobError {
        _ = try await store.requestRestore(memberID: memberID, appointmentID: appointmentID, revision: revision)
        return verifyLater(Date().addingTimeInterval(VideoLinkOutcome.pendingRecheckDelay))
    }
}

extension VideoLinkOutcome {
    /// How long after a still-pending Meet link the export reads it again, and how many times per job.
    package static let pendingRecheckDelay: TimeInterval = 30
    package static let pendingRechecks = 10
}

/// A recorded join URL whose `appointment.video_link` was not published yet (the outbox of video links).
package struct UnpublishedVideoLink: Sendable, Hashable {
    package var memberID: String
    package var appointmentID: String
    package var url: String
    package var provider: ProviderKind

    /// Creates an outbox entry.
    package init(memberID: String, appointmentID: String, url: String, provider: ProviderKind) {
        self.memberID = memberID
        self.appointmentID = appointmentID
        self.url = url
        self.provider = provider
    }
}
