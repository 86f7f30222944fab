import CalsyncJobs
import Foundation
import Logging

/// `import_window`: makes the member's busy blocks equal to the busy events of its busy-source calendars.
package struct ImportWindowHandler: JobHandler {
    package let jobType = ImportWindowPayload.jobType
    let environment: SyncEnvironment
    /// Runs once the member's import lock is held, before anything is read (push clears its mark here).
    var onLockAcquired: (@Sendable (ImportWindowPayload, Logger) async -> Void)?

    /// Creates the handler.
    package init(environment: SyncEnvironment) { self.environment = environment }

    package func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        let payload = try decodePayload(ImportWindowPayload.self, job)
        let env = environment
        var logger = context.logger
        logger[metadataKey: LogKey.memberID] = "\(payload.memberID)"
        guard let member = try await env.store.memberState(payload.memberID) else { throw unknownMember(payload.memberID) }
        guard member.eligible else { return .skipped("ineligible") }
        let sources = member.connections.filter {
            $0.syncDirection.imports && $0.status == .active && (payload.provider == nil || $0.provider == payload.provider)
        }
        guard !sources.isEmpty else { return .skipped("no_busy_source") }

        let rolling = env.configuration.rollingWindow(now: Date())
        let explicit = payload.windowStart.map { start in
            DateInterval(start: start.date, end: payload.windowEnd?.date ?? max(rolling.end, start.date))
        } ?? payload.windowEnd.map { end in DateInterval(start: min(rolling.start, end.date), end: end.date) }
        let window = explicit ?? rolling
        let fullRead = payload.fullResync || explicit != nil

        let counts: ImportCounts = try await env.withLock(importLockKey(payload.memberID), what: "member's import", context: context) {
            await onLockAcquired?(payload, logger)
            // Only an import of the rolling window stands for the scheduler's queued one; one over an explicit
            // window leaves that one queued.
            if explicit == nil { try await env.store.importStarted(connectionIDs: sources.map(\.id)) }
            var total = ImportCounts()
            var firstError: JobError?
            for connection in sources {
                do {
                    total = total + (try await importConnection(
                        connection, member: member, window: window, explicit: explicit != nil, fullRead: fullRead,
                        logger: logger))
                    try await env.store.recordInboundAttempt(connectionID: connection.id, error: nil)
                } catch let error as ProviderError {
                    let failure = try await env.providerFailure(error, connection: connection, direction: .inbound, logger: logger)
                    firstError = firstError ?? failure
                } catch is ReconnectRequired {
                    continue
                }
            }
            if let firstError { throw firstError }
            return total
        }
        logger.debug(
            "import done",
            metadata: ["inserted": "\(counts.inserted)", "updated": "\(counts.updated)", "deleted": "\(counts.deleted)"])
        await env.publishUnpublishedVideoLinks(memberID: payload.memberID, logger: logger)
        await env.replayParkedChanges(member, logger: logger)
        return .completed
    }

    private func importConnection(
        _ connection: ConnectionRecord, member: MemberSyncState, window: DateInterval, explicit: Bool, fullRead: Bool,
        logger: Logger
    ) async throws -> ImportCounts {
        let env = environment
        let client = try env.client(for: connection.provider)
        var total = ImportCounts()
        for calendarID in connection.busyCalendarIDs {
            let cursor = fullRead ? nil : try await env.store.cursor(connectionID: connection.id, calendarID: calendarID)
            // Two-way (contract §8): what calsync wrote, taken before the read (Sync/ExternalChanges.swift).
            let exported = try await env.exportsBeforeRead(connection, calendarID: calendarID)
            if let cursor {
                do {
                    let changes = try await env.callProvider(connection, client: client, logger: logger) { credentials in
                        try await client.readBusyChanges(
                            calendarID: calendarID, cursor: cursor, memberTimeZone: member.timeZone, credentials: credentials)
                    }
                    // Changes may reach outside the window: what ends up outside it is not busy time we keep.
                    let inside = changes.upserts.filter { window.intersects(DateInterval(start: $0.start, end: max($0.end, $0.start))) }
                    let outside = changes.upserts.filter { !window.intersects(DateInterval(start: $0.start, end: max($0.end, $0.start))) }
                    total = total + (try await env.store.applyBusyChanges(
                        connectionID: connection.id, memberID: member.memberID, calendarID: calendarID, upserts: inside,
                        removedEventIDs: changes.removedEventIDs + outside.map(\.externalEventID), cursor: changes.cursor))
                    await env.noticeExternalChanges(
                        connection, calendarID: calendarID, before: exported,
                        read: OwnEventsRead(present: changes.ownEvents, removedIDs: changes.removedEventIDs, window: nil), logger: logger)
                    continue
                } catch let error as ProviderError where error.kind == .fullResyncRequired {
                    logger.info("sync cursor expired; reading the whole window again")
                }
            }
            let snapshot = try await env.callProvider(connection, client: client, logger: logger) { credentials in
                try await client.readBusy(
                    calendarID: calendarID, window: window, memberTimeZone: member.timeZone, credentials: credentials)
            }
            // An explicit window changes only its own blocks and never the rolling window's cursor (contract §4).
            total = total + (try await env.store.replaceBusyBlocks(
                connectionID: connection.id, memberID: member.memberID, calendarID: calendarID, window: window,
                events: snapshot.events, scope: explicit ? .explicit : .rolling(cursor: snapshot.cursor)))
            await env.noticeExternalChanges(
                connection, calendarID: calendarID, before: exported,
                read: OwnEventsRead(present: snapshot.ownEvents, removedIDs: [], window: window), logger: logger)
        }
        return total
    }
}

/// The lock a member's imports hold, and its disconnects wait for.
func importLockKey(_ memberID: String) -> String { "import:\(memberID)" }
