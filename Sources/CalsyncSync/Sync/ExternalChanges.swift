import CalsyncJobs
import Foundation
import Logging
import Metrics

// Two-way (contract §8): every import compares calsync's own events as the provider shows them with what
// calsync last wrote (`appointment_exports`), and records a member's move or delete once in `external_changes`,
// published as `appointment.changed_externally`. Only an export whose last write settled is compared: an event
// that is mid-write, whose write's outcome is unknown, that waits to be verified or has a parked change may show
// calsync's own late write, which is not the member's change.

/// What `calendar_connections.external_changes` says to do when a member changed an exported event.
package enum ExternalChangeMode: String, Sendable, Hashable, Codable {
    /// Report it and leave the calendar as the member made it (the default).
    case notify
    /// Report it and write the last applied revision back (that write is not itself reported).
    case restore
}

/// One export as the store knows it, for comparing with what a read found.
package struct ExportedEvent: Sendable, Hashable {
    package var appointmentID: String
    package var appliedRevision: Int64
    /// The event's id; nil when calsync recorded no event.
    package var externalEventID: String?
    /// Whether calsync's last write left the event in the calendar.
    package var eventPresent: Bool
    /// The times calsync wrote (nil for rows written before two-way existed: never compared).
    package var written: DateInterval?
    /// Whether every write of it settled: no unsettled write intent, no pending verification, no parked change.
    package var settled: Bool
    /// When the row last changed: a row that changed during the read is not compared.
    package var updatedAt: Date
    /// The applied revision's payload (for `restore`).
    package var appliedPayload: [UInt8]?

    /// Creates an exported event.
    package init(
        appointmentID: String, appliedRevision: Int64, externalEventID: String?, eventPresent: Bool, written: DateInterval?,
        settled: Bool, updatedAt: Date, appliedPayload: [UInt8]?
    ) {
        self.appointmentID = appointmentID
        self.appliedRevision = appliedRevision
        self.externalEventID = externalEventID
        self.eventPresent = eventPresent
        self.written = written
        self.settled = settled
        self.updatedAt = updatedAt
        self.appliedPayload = appliedPayload
    }
}

/// The exports of one calendar and the connection's mode.
package struct ExportedEvents: Sendable, Hashable {
    package var mode: ExternalChangeMode
    package var events: [ExportedEvent]

    /// Creates the set.
    package init(mode: ExternalChangeMode, events: [ExportedEvent]) {
        self.mode = mode
        self.events = events
    }
}

/// A member's change of an exported event (a row of `external_changes`).
package struct ExternalChange: Sendable, Hashable {
    /// `moved` or `deleted`.
    package enum Kind: String, Sendable, Hashable { case moved, deleted }

    package var memberID: String
    package var appointmentID: String
    package var provider: ProviderKind
    package var appliedRevision: Int64
    package var change: Kind
    /// The new times, when moved.
    package var startsAt: Date?
    package var endsAt: Date?
    package var detectedAt: Date

    /// Creates a change.
    package init(
        memberID: String, appointmentID: String, provider: ProviderKind, appliedRevision: Int64, change: Kind,
        startsAt: Date?, endsAt: Date?, detectedAt: Date = Date()
    ) {
        self.memberID = memberID
        self.appointmentID = appointmentID
        self.provider = provider
        self.appliedRevision = appliedRevision
        self.change = change
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.detectedAt = detectedAt
    }
}

/// What one read of a calendar says about calsync's own events.
package struct OwnEventsRead: Sendable {
    /// Own events present, with their current times.
    package var present: [OwnEvent]
    /// Ids read as gone or not busy (an own event among them that is not present was deleted or cancelled).
    package var removedIDs: [String]
    /// A full read covers a window: an own event written inside it that the read did not return is gone.
    package var window: DateInterval?

    /// Creates a read.
    package init(present: [OwnEvent], removedIDs: [String], window: DateInterval?) {
        self.present = present
        self.removedIDs = removedIDs
        self.window = window
    }
}

/// The pure rule: which settled exports the read shows moved or deleted.
package enum ExternalChangeRules {
    /// Times closer than this are the same (providers round to the second).
    static let tolerance: TimeInterval = 1

    /// The changes `read` shows for `exports` (rows not settled, or without an event or written times, are skipped).
    package static func changes(
        _ exports: [ExportedEvent], read: OwnEventsRead, memberID: String, provider: ProviderKind, now: Date = Date()
    ) -> [(ExportedEvent, ExternalChange)] {
        let present = Dictionary(read.present.map { ($0.externalEventID, $0) }, uniquingKeysWith: { _, last in last })
        let removed = Set(read.removedIDs)
        var found: [(ExportedEvent, ExternalChange)] = []
        for export in exports where export.settled && export.eventPresent {
            guard let id = export.externalEventID, let written = export.written else { continue }
            func change(_ kind: ExternalChange.Kind, _ times: DateInterval?) -> (ExportedEvent, ExternalChange) {
                (export, ExternalChange(
                    memberID: memberID, appointmentID: export.appointmentID, provider: provider,
                    appliedRevision: export.appliedRevision, change: kind, startsAt: times?.start, endsAt: times?.end,
                    detectedAt: now))
            }
            if let own = present[id] {
                if abs(own.start.timeIntervalSince(written.start)) > tolerance || abs(own.end.timeIntervalSince(written.end)) > tolerance {
                    found.append(change(.moved, DateInterval(start: own.start, end: max(own.end, own.start))))
                }
            } else if removed.contains(id) {
                found.append(change(.deleted, nil))
            } else if let window = read.window, BusyReadScope.overlaps(start: written.start, end: written.end, window) {
                found.append(change(.deleted, nil))
            }
        }
        return found
    }
}

/// A recorded external change not yet published (the outbox row).
package struct UnpublishedExternalChange: Sendable, Hashable {
    package var id: Int64
    package var change: ExternalChange

    /// Creates an outbox entry.
    package init(id: Int64, change: ExternalChange) {
        self.id = id
        self.change = change
    }
}

extension CalendarProvider {
    /// Providers whose reads do not report calsync's own events are never compared (all would look deleted).
    package var reportsOwnEvents: Bool { false }

    /// Providers whose incremental removals are deletions (Google's `cancelled`): gone.
    package func ownEventAfterRemoval(id: String, calendarID: String, credentials: ProviderCredentials) async throws -> OwnEvent? {
        nil
    }
}

extension SyncEnvironment {
    /// The exports of a calendar before its read (nil when the connection does not export, the calendar is not its
    /// export calendar, or its provider does not report own events): compared after the read, only rows unchanged
    /// in between count.
    func exportsBeforeRead(_ connection: ConnectionRecord, calendarID: String) async throws -> ExportedEvents? {
        guard connection.syncDirection.exports, connection.exportCalendarID == calendarID,
            try client(for: connection.provider).reportsOwnEvents
        else { return nil }
        return try await store.exportedEvents(memberID: connection.memberID, connectionID: connection.id, calendarID: calendarID)
    }

    /// Compares a read with the exports, records each change, then publishes every unpublished one (an outbox:
    /// a publish that failed or was cut short is retried by the next import) and, in `restore` mode, undoes it
    /// when it is published. Failures are logged: they never fail the import.
    func noticeExternalChanges(
        _ connection: ConnectionRecord, calendarID: String, before: ExportedEvents?, read: OwnEventsRead, logger: Logger
    ) async {
        guard let before else { return }
        do {
            let after = try await store.exportedEvents(memberID: connection.memberID, connectionID: connection.id, calendarID: calendarID)
            let earlier = Dictionary(before.events.map { ($0.appointmentID, $0) }, uniquingKeysWith: { _, last in last })
            // A row that changed while the provider was read may be compared with calsync's own write in flight.
            let stable = after.events.filter { earlier[$0.appointmentID] == $0 }
            let confirmed = try await confirmingRemovals(connection, calendarID: calendarID, exports: stable, read: read, logger: logger)
            let found = ExternalChangeRules.changes(stable, read: confirmed, memberID: connection.memberID, provider: connection.provider)
            for (_, change) in found {
                guard try await store.recordExternalChange(change) else { continue }
                Counter(
                    label: "calsync.external_changes",
                    dimensions: [("provider", connection.provider.rawValue), ("change", change.change.rawValue)]
                ).increment()
                logger.info("an exported event was \(change.change.rawValue) in the member's calendar (\(after.mode.rawValue))")
            }
            let exports = Dictionary(after.events.map { ($0.appointmentID, $0) }, uniquingKeysWith: { _, last in last })
            for entry in try await store.unpublishedExternalChanges(memberID: connection.memberID)
            where entry.change.provider == connection.provider {
                guard await publish(entry.change, mode: after.mode, logger: logger) else { break }
                // Restore only a change reported now: the same state read again is not a new change (finding 1).
                if after.mode == .restore, let export = exports[entry.change.appointmentID],
                    export.appliedRevision == entry.change.appliedRevision
                {
                    await restore(export, change: entry.change, logger: logger)
                }
                try await store.markExternalChangePublished(id: entry.id)
            }
        } catch {
            logger.warning("could not compare exported events with the calendar", metadata: [LogKey.error: "\(SafeText.describe(error))"])
        }
    }

    /// An incremental read's removals of own events, confirmed where the provider's removal may mean "left the
    /// window" (Graph delta): an event still there counts as present with its times now.
    private func confirmingRemovals(
        _ connection: ConnectionRecord, calendarID: String, exports: [ExportedEvent], read: OwnEventsRead, logger: Logger
    ) async throws -> OwnEventsRead {
        guard read.window == nil else { return read }
        let presentIDs = Set(read.present.map(\.externalEventID))
        let compared = Set(exports.filter { $0.settled && $0.written != nil }.compactMap(\.externalEventID))
        let doubtful = Set(read.removedIDs).intersection(compared).subtracting(presentIDs)
        guard !doubtful.isEmpty else { return read }
        let client = try client(for: connection.provider)
        var result = read
        for id in doubtful.sorted() {
            let now = try await callProvider(connection, client: client, logger: logger) { credentials in
                try await client.ownEventAfterRemoval(id: id, calendarID: calendarID, credentials: credentials)
            }
            guard let now else { continue }
            result.removedIDs.removeAll { $0 == id }
            result.present.append(now)
        }
        return result
    }

    /// Publishes `appointment.changed_externally`; false when it could not.
    private func publish(_ change: ExternalChange, mode: ExternalChangeMode, logger: Logger) async -> Bool {
        var fields = [
            "appointment_id": change.appointmentID, "applied_revision": String(change.appliedRevision),
            "change": change.change.rawValue, "detected_at": RFC3339.formatSeconds(change.detectedAt),
            "resolution": mode.rawValue,
        ]
        if let start = change.startsAt { fields["starts_at"] = RFC3339.formatSeconds(start) }
        if let end = change.endsAt { fields["ends_at"] = RFC3339.formatSeconds(end) }
        var event = SyncLifecycleEvent(
            type: "appointment.changed_externally", memberID: change.memberID, provider: change.provider, at: change.detectedAt,
            detail: mode == .restore
                ? "the event was \(change.change.rawValue) in the member's calendar; calsync writes the booking back"
                : "the event was \(change.change.rawValue) in the member's calendar")
        event.fields = fields
        do {
            try await events.publish(event)
            return true
        } catch {
            logger.warning("could not publish an external change", metadata: [LogKey.error: "\(SafeText.describe(error))"])
            return false
        }
    }

    /// `restore`: the applied revision is marked to be written again and its payload enqueued; the export job
    /// writes it through the normal fenced, conditional path (as a verification), so the restore is not reported.
    private func restore(_ export: ExportedEvent, change: ExternalChange, logger: Logger) async {
        guard let payload = export.appliedPayload else {
            logger.warning("cannot restore an event exported before two-way existed; export the appointment again")
            return
        }
        do {
            guard try await store.requestRestore(
                memberID: change.memberID, appointmentID: change.appointmentID, revision: change.appliedRevision)
            else { return }
            let id = "restore-\(ExportKey(memberID: change.memberID, appointmentID: change.appointmentID).digest.prefix(20))-"
                + "\(change.appliedRevision)-\(Int(change.detectedAt.timeIntervalSince1970))"
            try await enqueuer.enqueue(type: ExportAppointmentPayload.jobType, id: id, payload: payload)
        } catch {
            logger.warning("could not restore an exported event", metadata: [LogKey.error: "\(SafeText.describe(error))"])
        }
    }
}

extension SyncStore {
    /// Stores without two-way know no exports to compare.
    package func exportedEvents(memberID: String, connectionID: String, calendarID: String) async throws -> ExportedEvents {
        ExportedEvents(mode: .notify, events: [])
    }

    /// Stores without two-way record nothing.
    package func recordExternalChange(_ change: ExternalChange) async throws -> Bool { false }

    /// Stores without two-way never restore.
    package func requestRestore(memberID: String, appointmentID: String, revision: Int64) async throws -> Bool { false }

    /// Stores without two-way have no outbox.
    package func unpublishedExternalChanges(memberID: String) async throws -> [UnpublishedExternalChange] { [] }

    /// Stores without two-way have no outbox.
    package func markExternalChangePublished(id: Int64) async throws {}

    /// Stores without video links have no outbox.
    package func unpublishedVideoLinks(memberID: String) async throws -> [UnpublishedVideoLink] { [] }

    /// Stores without video links have no outbox.
    package func markVideoLinkPublished(memberID: String, appointmentID: String, url: String) async throws {}
}
