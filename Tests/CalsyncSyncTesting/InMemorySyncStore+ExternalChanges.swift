import CalsyncSync
import Foundation
import Synchronization

// Two-way (contract §8) in memory, with the PostgreSQL store's rules: only settled exports are compared,
// each change is recorded once, a restore marks the applied revision to be verified.
extension InMemorySyncStore {
    /// The member's changes found so far.
    package func externalChanges(memberID: String) -> [ExternalChange] {
        state.withLock { $0.externalChanges.filter { $0.memberID == memberID } }
    }

    /// Sets a connection's `external_changes` mode.
    package func setExternalChanges(_ mode: ExternalChangeMode, connectionID: String) {
        state.withLock { $0.externalChangeModes[connectionID] = mode }
    }

    package func exportedEvents(memberID: String, connectionID: String, calendarID: String) async throws -> ExportedEvents {
        state.withLock { state in
            let now = Date()
            var events: [ExportedEvent] = []
            for (key, row) in state.exports where key.hasPrefix(memberID + "\u{0}") {
                guard row.connectionID == connectionID, row.calendarID == calendarID, row.eventPresent else { continue }
                let appointment = String(key.dropFirst(memberID.count + 1))
                let unsettled = state.intents.contains {
                    $0.memberID == memberID && $0.appointmentID == appointment
                        && ($0.settlesAt > now || $0.revision > row.appliedRevision)
                }
                let settled = row.verifyAfter == nil && !unsettled && state.parked[key] == nil
                events.append(
                    ExportedEvent(
                        appointmentID: appointment, appliedRevision: row.appliedRevision, externalEventID: row.externalEventID,
                        eventPresent: row.eventPresent, written: row.written, settled: settled, updatedAt: Date(timeIntervalSince1970: 0),
                        appliedPayload: row.appliedPayload))
            }
            return ExportedEvents(mode: state.externalChangeModes[connectionID] ?? .notify, events: events)
        }
    }

    package func recordExternalChange(_ change: ExternalChange) async throws -> Bool {
        state.withLock { state in
            let seen = state.externalChanges.contains {
                $0.memberID == change.memberID && $0.appointmentID == change.appointmentID
                    && $0.appliedRevision == change.appliedRevision && $0.change == change.change
                    && $0.startsAt == change.startsAt && $0.endsAt == change.endsAt
            }
            if !seen { state.externalChanges.append(change) }
            return !seen
        }
    }

    package func requestRestore(memberID: String, appointmentID: String, revision: Int64) async throws -> Bool {
        state.withLock { state in
            let key = Self.key(memberID, appointmentID)
            guard var row = state.exports[key], row.appliedRevision == revision, row.verifyAfter == nil, row.appliedPayload != nil
            else { return false }
            row.verifyAfter = Date()
            state.exports[key] = row
            return true
        }
    }
}

// The outbox of external changes and video links (review finding 3).
extension InMemorySyncStore {
    package func unpublishedExternalChanges(memberID: String) async throws -> [UnpublishedExternalChange] {
        state.withLock { state in
            state.externalChanges.indices.compactMap { index in
                let change = state.externalChanges[index]
                guard change.memberID == memberID, !state.publishedExternalChanges.contains(index) else { return nil }
                return UnpublishedExternalChange(id: Int64(index), change: change)
            }
        }
    }

    package func markExternalChangePublished(id: Int64) async throws {
        _ = state.withLock { $0.publishedExternalChanges.insert(Int(id)) }
    }

    package func unpublishedVideoLinks(memberID: String) async throws -> [UnpublishedVideoLink] {
        state.withLock { state in
            state.exports.sorted { $0.key < $1.key }.compactMap { key, row in
                guard key.hasPrefix(memberID + "\u{0}"), let url = row.videoURL, state.publishedVideoLinks[key] != url,
                    let provider = state.connections.first(where: { $0.record.id == row.connectionID })?.record.provider
                else { return nil }
                return UnpublishedVideoLink(
                    memberID: memberID, appointmentID: String(key.dropFirst(memberID.count + 1)), url: url, provider: provider)
            }
        }
    }

    package func markVideoLinkPublished(memberID: String, appointmentID: String, url: String) async throws {
        state.withLock { state in
            let key = Self.key(memberID, appointmentID)
            if state.exports[key]?.videoURL == url { state.publishedVideoLinks[key] = url }
        }
    }
}
