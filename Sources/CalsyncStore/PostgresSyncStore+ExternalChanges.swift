import CalsyncSync
import Foundation
import PostgresNIO

// Two-way (contract §8): the exports an import compares with what it read, and the changes it found.
extension PostgresSyncStore {
    /// The exports of one calendar of a connection, each with whether all its writes settled.
    package func exportedEvents(memberID: String, connectionID: String, calendarID: String) async throws -> ExportedEvents {
        try await translatingTimeouts {
            var mode = ExternalChangeMode.notify
            let modes = try await client.query(
                "SELECT external_changes FROM calendar_connections WHERE id = \(connectionID)::uuid", logger: logger)
            for try await value in modes.decode(String.self) { mode = ExternalChangeMode(rawValue: value) ?? .notify }
            let rows = try await client.query(
                """
                SELECT e.appointment_id, e.applied_revision, e.external_event_id, e.event_present,
                       e.written_starts_at, e.written_ends_at, e.updated_at, e.applied_payload,
                       e.verify_after IS NULL
                       AND NOT EXISTS (SELECT 1 FROM export_write_intents i
                                       WHERE i.member_id = e.member_id AND i.appointment_id = e.appointment_id
                                         AND (i.settles_at > now() OR i.revision > e.applied_revision))
                       AND NOT EXISTS (SELECT 1 FROM parked_changes p
                                       WHERE p.member_id = e.member_id AND p.appointment_id = e.appointment_id)
                FROM appointment_exports e
                WHERE e.member_id = \(memberID) AND e.connection_id = \(connectionID)::uuid AND e.calendar_id = \(calendarID)
                  AND e.event_present
                """,
                logger: logger)
            var events: [ExportedEvent] = []
            for try await (appointment, revision, eventID, present, start, end, updatedAt, payload, settled) in rows.decode(
                (String, Int64, String?, Bool, Date?, Date?, Date, String?, Bool).self)
            {
                events.append(
                    ExportedEvent(
                        appointmentID: appointment, appliedRevision: revision, externalEventID: eventID, eventPresent: present,
                        written: start.flatMap { s in end.map { DateInterval(start: s, end: max($0, s)) } },
                        settled: settled, updatedAt: updatedAt, appliedPayload: payload.map { Array($0.utf8) }))
            }
            return ExportedEvents(mode: mode, events: events)
        }
    }

    /// Inserts the change unless the same one was recorded; true when it is new.
    package func recordExternalChange(_ change: ExternalChange) async throws -> Bool {
        try await translatingTimeouts {
            let rows = try await client.query(
                """
                INSERT INTO external_changes (member_id, appointment_id, provider, applied_revision, change, starts_at, ends_at, detected_at)
                VALUES (\(change.memberID), \(change.appointmentID), \(change.provider.rawValue), \(change.appliedRevision),
                        \(change.change.rawValue), \(change.startsAt), \(change.endsAt), \(change.detectedAt))
                ON CONFLICT DO NOTHING
                RETURNING 1
                """,
                logger: logger)
            var inserted = false
            for try await _ in rows { inserted = true }
            return inserted
        }
    }

    /// Sets `verify_after` to now on the applied revision when nothing is pending; true when set.
    package func requestRestore(memberID: String, appointmentID: String, revision: Int64) async throws -> Bool {
        try await translatingTimeouts {
            let rows = try await client.query(
                """
                UPDATE appointment_exports SET verify_after = now(), updated_at = now()
                WHERE member_id = \(memberID) AND appointment_id = \(appointmentID) AND applied_revision = \(revision)
                  AND verify_after IS NULL AND applied_payload IS NOT NULL
                RETURNING 1
                """,
                logger: logger)
            var marked = false
            for try await _ in rows { marked = true }
            return marked
        }
    }
}

// The outbox (migration 14): what was recorded but not yet published.
extension PostgresSyncStore {
    /// The member's external changes without `published_at`, oldest first.
    package func unpublishedExternalChanges(memberID: String) async throws -> [UnpublishedExternalChange] {
        try await translatingTimeouts {
            let rows = try await client.query(
                """
                SELECT id, appointment_id, provider, applied_revision, change, starts_at, ends_at, detected_at
                FROM external_changes WHERE member_id = \(memberID) AND published_at IS NULL ORDER BY id LIMIT 500
                """,
                logger: logger)
            var found: [UnpublishedExternalChange] = []
            for try await (id, appointment, provider, revision, change, start, end, detected) in rows.decode(
                (Int64, String, String, Int64, String, Date?, Date?, Date).self)
            {
                guard let provider = ProviderKind(rawValue: provider), let kind = ExternalChange.Kind(rawValue: change) else { continue }
                found.append(
                    UnpublishedExternalChange(
                        id: id,
                        change: ExternalChange(
                            memberID: memberID, appointmentID: appointment, provider: provider, appliedRevision: revision,
                            change: kind, startsAt: start, endsAt: end, detectedAt: detected)))
            }
            return found
        }
    }

    /// Sets `published_at`.
    package func markExternalChangePublished(id: Int64) async throws {
        try await translatingTimeouts {
            _ = try await client.query(
                "UPDATE external_changes SET published_at = now() WHERE id = \(id) AND published_at IS NULL", logger: logger)
        }
    }

    /// The member's exports whose `video_url` differs from the URL last published.
    package func unpublishedVideoLinks(memberID: String) async throws -> [UnpublishedVideoLink] {
        try await translatingTimeouts {
            let rows = try await client.query(
                """
                SELECT e.appointment_id, e.video_url, c.provider
                FROM appointment_exports e JOIN calendar_connections c ON c.id = e.connection_id
                WHERE e.member_id = \(memberID) AND e.video_url IS NOT NULL
                  AND e.video_url IS DISTINCT FROM e.video_published_url
                ORDER BY e.appointment_id LIMIT 500
                """,
                logger: logger)
            var found: [UnpublishedVideoLink] = []
            for try await (appointment, url, provider) in rows.decode((String, String, String).self) {
                guard let provider = ProviderKind(rawValue: provider) else { continue }
                found.append(UnpublishedVideoLink(memberID: memberID, appointmentID: appointment, url: url, provider: provider))
            }
            return found
        }
    }

    /// Records `url` as published while it is still the export's `video_url`.
    package func markVideoLinkPublished(memberID: String, appointmentID: String, url: String) async throws {
        try await translatingTimeouts {
            _ = try await client.query(
                """
                UPDATE appointment_exports SET video_published_url = \(url)
                WHERE member_id = \(memberID) AND appointment_id = \(appointmentID) AND video_url = \(url)
                """,
                logger: logger)
        }
    }
}
