import CalsyncJobs
import CalsyncSync
import Foundation
import Synchronization

/// The whole `SyncStore` in memory, with the PostgreSQL store's rules: eligibility, parked changes (newest
/// revision only, the 5-minute replay guard), a `disconnected` connection refusing later writes, explicit
/// windows, and the fenced-write intents. One instance per test.
package final class InMemorySyncStore: SyncStore {
    /// One `organizations` row.
    package struct Organization: Sendable {
        package var plan: String
        package var syncEnabled: Bool
    }

    /// One `calendar_connections` row.
    package struct Connection: Sendable {
        package var record: ConnectionRecord
        package var accessTokenExpiresAt: Date?
        package var connectedByJobID: String?
        package var lastInboundSyncAt: Date?
        package var lastInboundError: String?
        package var lastOutboundSyncAt: Date?
        package var lastOutboundError: String?
        package var rateLimitedUntil: Date?
    }

    /// One `external_busy_blocks` row.
    package struct Block: Sendable, Hashable {
        package var memberID: String
        package var connectionID: String
        package var event: BusyEvent
    }

    /// One `parked_changes` row.
    package struct Parked: Sendable {
        package var change: ParkedChange
        package var replayEnqueuedAt: Date?
    }

    /// Everything the store holds.
    package struct State: Sendable {
        package var organizations: [String: Organization] = [:]
        /// Member → (organization, IANA time zone).
        package var members: [String: (organizationID: String, timeZone: String)] = [:]
        /// In creation order (the PostgreSQL store orders a member's connections by `created_at`).
        package var connections: [Connection] = []
        /// "member \0 appointment" → applied state.
        package var exports: [String: ExportState] = [:]
        package var intents: [ProviderWriteIntent] = []
        /// "member \0 appointment" → parked change.
        package var parked: [String: Parked] = [:]
        package var blocks: [Block] = []
        /// "connection \0 calendar" → cursor.
        package var cursors: [String: SyncCursor] = [:]
        /// The members' changes found by imports (two-way), in the order found.
        package var externalChanges: [ExternalChange] = []
        /// Connection id → `external_changes` mode (absent: `notify`).
        package var externalChangeModes: [String: ExternalChangeMode] = [:]
        /// Indexes into `externalChanges` of the changes published (the outbox's `published_at`).
        package var publishedExternalChanges: Set<Int> = []
        /// "member \0 appointment" → the video join URL last published.
        package var publishedVideoLinks: [String: String] = [:]
        /// Connection ids of every import started (`importStarted`), in order.
        package var importsStarted: [String] = []
    }

    /// How long a replay stays marked before another job may replay the change again (the store's guard).
    package static let replayGuard: TimeInterval = 300

    package let state = Mutex(State())
    private let credentialLocks = AsyncKeyedLock()

    /// An empty store.
    package init() {}

    // MARK: Seeding and reading back (tests)

    /// Adds (or replaces) an organization.
    package func addOrganization(_ id: String, plan: String = "pro", syncEnabled: Bool = true) {
        state.withLock { $0.organizations[id] = Organization(plan: plan, syncEnabled: syncEnabled) }
    }

    /// Changes an organization's plan or sync switch, as the web tier does.
    package func setOrganization(_ id: String, plan: String? = nil, syncEnabled: Bool? = nil) {
        state.withLock { state in
            if let plan { state.organizations[id]?.plan = plan }
            if let syncEnabled { state.organizations[id]?.syncEnabled = syncEnabled }
        }
    }

    /// Adds a member of an organization.
    package func addMember(_ id: String, organizationID: String, timeZone: String = "UTC") {
        state.withLock { $0.members[id] = (organizationID, timeZone) }
    }

    /// The connection row with this id.
    package func connection(_ id: String) -> Connection? {
        state.withLock { $0.connections.first { $0.record.id == id } }
    }

    /// Edits a connection row directly (tests set up statuses, directions, calendars).
    package func editConnection(_ id: String, _ edit: (inout ConnectionRecord) -> Void) {
        state.withLock { state in
            if let index = state.connections.firstIndex(where: { $0.record.id == id }) { edit(&state.connections[index].record) }
        }
    }

    /// The member's busy blocks: external event id → block.
    package func blocks(memberID: String) -> [String: BusyEvent] {
        state.withLock { state in
            Dictionary(state.blocks.filter { $0.memberID == memberID }.map { ($0.event.externalEventID, $0.event) }) { a, _ in a }
        }
    }

    /// What was applied for an appointment.
    package func export(memberID: String, appointmentID: String) -> ExportState? {
        state.withLock { $0.exports[Self.key(memberID, appointmentID)] }
    }

    /// The parked change of an appointment.
    package func parked(memberID: String, appointmentID: String) -> ParkedChange? {
        state.withLock { $0.parked[Self.key(memberID, appointmentID)]?.change }
    }

    /// The unsettled write intents of an appointment.
    package func intents(memberID: String, appointmentID: String) -> [ProviderWriteIntent] {
        state.withLock { $0.intents.filter { $0.memberID == memberID && $0.appointmentID == appointmentID } }
    }

    /// Moves every time the store knows of back by `seconds` (intents, verify-after, replay marks): what
    /// waiting that long would do, without waiting.
    package func age(by seconds: TimeInterval) {
        state.withLock { state in
            for index in state.intents.indices { state.intents[index].settlesAt.addTimeInterval(-seconds) }
            for key in state.exports.keys { state.exports[key]?.verifyAfter?.addTimeInterval(-seconds) }
            for key in state.parked.keys { state.parked[key]?.replayEnqueuedAt?.addTimeInterval(-seconds) }
        }
    }

    static func key(_ a: String, _ b: String) -> String { a + "\u{0}" + b }

    // MARK: SyncStore

    package func memberState(_ memberID: String) async throws -> MemberSyncState? {
        state.withLock { Self.memberState(memberID, in: $0, now: Date()) }
    }

    static func memberState(_ memberID: String, in state: State, now: Date) -> MemberSyncState? {
        guard let member = state.members[memberID] else { return nil }
        let organization = state.organizations[member.organizationID]
        let eligible = organization.map { $0.syncEnabled && ["pro", "advanced"].contains($0.plan) } ?? false
        let hasParked = state.parked.values.contains {
            $0.change.memberID == memberID
                && ($0.replayEnqueuedAt.map { $0 < now.addingTimeInterval(-replayGuard) } ?? true)
        }
        return MemberSyncState(
            memberID: memberID, organizationID: member.organizationID,
            timeZone: TimeZone(identifier: member.timeZone) ?? TimeZone(identifier: "UTC")!, eligible: eligible,
            connections: state.connections.filter { $0.record.memberID == memberID }.map(\.record), hasParkedChanges: hasParked)
    }

    package func exportState(memberID: String, appointmentID: String, revision: Int64) async throws -> ExportFence {
        state.withLock { state in
            let mine = state.intents.filter { $0.memberID == memberID && $0.appointmentID == appointmentID }
            return ExportFence(
                state: state.exports[Self.key(memberID, appointmentID)],
                olderUnsettledUntil: mine.filter { $0.revision < revision }.map(\.settlesAt).max(),
                sameRevisionUnsettledUntil: mine.filter { $0.revision == revision }.map(\.settlesAt).max())
        }
    }

    package func recordExport(
        memberID: String, appointmentID: String, revision: Int64, state recorded: ExportState, calledConnectionID: String?,
        writeToken: String?
    ) async throws -> Bool {
        state.withLock { state in
            let key = Self.key(memberID, appointmentID)
            state.intents.removeAll { $0.memberID == memberID && $0.appointmentID == appointmentID && $0.token == writeToken }
            if let applied = state.exports[key], applied.appliedRevision >= revision { return false }
            var row = recorded
            row.appliedRevision = revision
            state.exports[key] = row
            state.intents.removeAll { $0.memberID == memberID && $0.appointmentID == appointmentID && $0.revision < revision }
            if let parked = state.parked[key], parked.change.revision <= revision { state.parked[key] = nil }
            if let calledConnectionID { Self.stamp(&state, calledConnectionID, outbound: true, error: nil) }
            return true
        }
    }

    package func beginProviderWrite(_ intent: ProviderWriteIntent) async throws {
        state.withLock { $0.intents.append(intent) }
    }

    package func settleProviderWrite(memberID: String, appointmentID: String, token: String) async throws {
        state.withLock { state in
            state.intents.removeAll { $0.memberID == memberID && $0.appointmentID == appointmentID && $0.token == token }
        }
    }

    package func recordVerification(
        memberID: String, appointmentID: String, revision: Int64, verifyAfter: Date, state recorded: ExportState,
        writeToken: String
    ) async throws -> Bool {
        state.withLock { state in
            state.intents.removeAll {
                $0.memberID == memberID && $0.appointmentID == appointmentID
                    && ($0.token == writeToken || ($0.revision <= revision && $0.settlesAt <= verifyAfter))
            }
            let key = Self.key(memberID, appointmentID)
            guard var row = state.exports[key], row.appliedRevision == revision else { return false }
            if let seen = row.verifyAfter, seen <= verifyAfter { row.verifyAfter = nil }
            row.connectionID = recorded.connectionID
            row.calendarID = recorded.calendarID
            row.externalEventID = recorded.externalEventID
            row.contentHash = recorded.contentHash
            row.eventPresent = recorded.eventPresent
            row.etag = recorded.etag
            row.videoURL = recorded.videoURL
            state.exports[key] = row
            return true
        }
    }

    /// Stamps an attempt on a connection that is not `disconnected`.
    static func stamp(_ state: inout State, _ connectionID: String, outbound: Bool, error: String?) {
        guard let index = state.connections.firstIndex(where: { $0.record.id == connectionID }),
            state.connections[index].record.status != .disconnected
        else { return }
        if outbound {
            state.connections[index].lastOutboundSyncAt = Date()
            state.connections[index].lastOutboundError = error
        } else {
            state.connections[index].lastInboundSyncAt = Date()
            state.connections[index].lastInboundError = error
        }
    }

    package func recordOutboundAttempt(connectionID: String, error: String?) async throws {
        state.withLock { Self.stamp(&$0, connectionID, outbound: true, error: error) }
    }

    package func recordRateLimited(connectionID: String, until: Date) async throws {
        state.withLock { state in
            guard let index = state.connections.firstIndex(where: { $0.record.id == connectionID }) else { return }
            if state.connections[index].rateLimitedUntil.map({ $0 < until }) ?? true {
                state.connections[index].rateLimitedUntil = until
            }
        }
    }

    package func recordInboundAttempt(connectionID: String, error: String?) async throws {
        state.withLock { Self.stamp(&$0, connectionID, outbound: false, error: error) }
    }

    package func importStarted(connectionIDs: [String]) async throws {
        state.withLock { $0.importsStarted += connectionIDs }
    }

    package func park(_ change: ParkedChange) async throws {
        state.withLock { state in
            let key = Self.key(change.memberID, change.appointmentID)
            if let applied = state.exports[key], applied.appliedRevision >= change.revision { return }
            if let parked = state.parked[key], parked.change.revision > change.revision { return }
            state.parked[key] = Parked(change: change, replayEnqueuedAt: nil)
        }
    }

    package func takeParkedChanges(memberID: String, now: Date) async throws -> [ParkedChange] {
        state.withLock { state in
            var taken: [ParkedChange] = []
            for (key, parked) in state.parked where parked.change.memberID == memberID {
                let change = parked.change
                if change.kind == .export, let ends = change.endsAt, ends <= now {
                    state.parked[key] = nil
                    continue
                }
                guard parked.replayEnqueuedAt.map({ $0 < Date().addingTimeInterval(-Self.replayGuard) }) ?? true else { continue }
                state.parked[key]?.replayEnqueuedAt = Date()
                taken.append(change)
            }
            return taken.sorted { ($0.appointmentID, $0.revision) < ($1.appointmentID, $1.revision) }
        }
    }

    package func saveConnection(_ new: NewConnection) async throws -> ConnectionRecord {
        state.withLock { state in
            if let index = state.connections.firstIndex(where: { $0.record.memberID == new.memberID && $0.record.provider == new.provider }) {
                var row = state.connections[index]
                let otherAccount = row.record.accountEmail != new.accountEmail
                row.record.status = .active
                row.record.statusDetail = nil
                row.connectedByJobID = new.jobID
                row.record.credentials = new.credentials
                row.accessTokenExpiresAt = new.accessTokenExpiresAt
                if row.record.exportCalendarID == nil || otherAccount { row.record.exportCalendarID = new.primaryCalendarID }
                if row.record.busyCalendarIDs.isEmpty || otherAccount { row.record.busyCalendarIDs = [new.primaryCalendarID] }
                row.record.accountEmail = new.accountEmail
                state.connections[index] = row
                return row.record
            }
            let exportsElsewhere = state.connections.contains {
                $0.record.memberID == new.memberID && $0.record.provider != new.provider && $0.record.syncDirection.exports
            }
            let record = ConnectionRecord(
                id: UUID().uuidString.lowercased(), memberID: new.memberID, provider: new.provider,
                accountEmail: new.accountEmail, status: .active, statusDetail: nil, exportCalendarID: new.primaryCalendarID,
                busyCalendarIDs: [new.primaryCalendarID], syncDirection: exportsElsewhere ? .inbound : .both,
                eventDetails: .private, credentials: new.credentials)
            state.connections.append(
                Connection(record: record, accessTokenExpiresAt: new.accessTokenExpiresAt, connectedByJobID: new.jobID))
            return record
        }
    }

    package func connectionSaved(byJob jobID: String, memberID: String, provider: ProviderKind) async throws -> Bool {
        state.withLock { state in
            state.connections.contains {
                $0.record.memberID == memberID && $0.record.provider == provider && $0.connectedByJobID == jobID
                    && $0.record.status == .active
            }
        }
    }

    @discardableResult
    package func setStatus(connectionID: String, status: ConnectionStatus, detail: String?) async throws -> Bool {
        state.withLock { state in
            guard let index = state.connections.firstIndex(where: { $0.record.id == connectionID }),
                state.connections[index].record.status != .disconnected
            else { return false }
            state.connections[index].record.status = status
            state.connections[index].record.statusDetail = detail
            return true
        }
    }

    package func disconnect(connectionID: String, detail: String) async throws {
        state.withLock { state in
            if let index = state.connections.firstIndex(where: { $0.record.id == connectionID }) {
                state.connections[index].record.status = .disconnected
                state.connections[index].record.statusDetail = detail
                state.connections[index].record.credentials = nil
                state.connections[index].accessTokenExpiresAt = nil
            }
            state.blocks.removeAll { $0.connectionID == connectionID }
            state.cursors = state.cursors.filter { !$0.key.hasPrefix(connectionID + "\u{0}") }
        }
    }

    package func withCredentialLock(
        connectionID: String, _ body: @Sendable (SealedCredentials?) async throws -> CredentialUpdate
    ) async throws -> SealedCredentials? {
        try await credentialLocks.withLock(connectionID) {
            let current = state.withLock { state -> (SealedCredentials?, Bool) in
                let row = state.connections.first { $0.record.id == connectionID }
                return (row?.record.credentials, row.map { $0.record.status == .disconnected } ?? true)
            }
            // A disconnect wins: no refresh for it, and nothing stored.
            guard !current.1 else { return nil }
            switch try await body(current.0) {
            case .keep:
                return current.0
            case .store(let fresh, let expiresAt):
                state.withLock { state in
                    guard let index = state.connections.firstIndex(where: { $0.record.id == connectionID }),
                        state.connections[index].record.status != .disconnected
                    else { return }
                    state.connections[index].record.credentials = fresh
                    state.connections[index].accessTokenExpiresAt = expiresAt
                }
                return fresh
            }
        }
    }

    package func cursor(connectionID: String, calendarID: String) async throws -> SyncCursor? {
        state.withLock { $0.cursors[Self.key(connectionID, calendarID)] }
    }

    /// Whether busy blocks and cursors may be written for a connection: it exists and is not `disconnected`.
    static func acceptsBusyWrites(_ state: State, _ connectionID: String) -> Bool {
        state.connections.first { $0.record.id == connectionID }.map { $0.record.status != .disconnected } ?? false
    }

    package func replaceBusyBlocks(
        connectionID: String, memberID: String, calendarID: String, window: DateInterval, events: [BusyEvent],
        scope: BusyReadScope
    ) async throws -> ImportCounts {
        let events = scope == .explicit ? events.filter { BusyReadScope.overlaps(start: $0.start, end: $0.end, window) } : events
        return state.withLock { state in
            guard Self.acceptsBusyWrites(state, connectionID) else { return ImportCounts() }
            let existing = state.blocks.filter { $0.connectionID == connectionID && $0.event.calendarID == calendarID }
            var found = Set<String>()
            var counts = ImportCounts()
            for event in events where found.insert(event.externalEventID).inserted {
                counts = counts + Self.upsert(&state, event, connectionID: connectionID, memberID: memberID, calendarID: calendarID)
            }
            for block in existing where !found.contains(block.event.externalEventID) {
                let inWindow = block.event.start < window.end && block.event.end > window.start
                var endedBefore = false
                if case .rolling = scope { endedBefore = block.event.end <= window.start }
                if inWindow || endedBefore {
                    state.blocks.removeAll { $0 == block }
                    counts.deleted += 1
                }
            }
            if case .rolling(let cursor) = scope { state.cursors[Self.key(connectionID, calendarID)] = cursor }
            return counts
        }
    }

    package func applyBusyChanges(
        connectionID: String, memberID: String, calendarID: String, upserts: [BusyEvent], removedEventIDs: [String],
        cursor: SyncCursor?
    ) async throws -> ImportCounts {
        state.withLock { state in
            guard Self.acceptsBusyWrites(state, connectionID) else { return ImportCounts() }
            var latest: [String: BusyEvent] = [:]
            for event in upserts { latest[event.externalEventID] = event }
            var counts = ImportCounts()
            for event in latest.values {
                counts = counts + Self.upsert(&state, event, connectionID: connectionID, memberID: memberID, calendarID: calendarID)
            }
            for id in Set(removedEventIDs).subtracting(latest.keys) {
                let before = state.blocks.count
                state.blocks.removeAll {
                    $0.connectionID == connectionID && $0.event.calendarID == calendarID && $0.event.externalEventID == id
                }
                counts.deleted += before - state.blocks.count
            }
            state.cursors[Self.key(connectionID, calendarID)] = cursor
            return counts
        }
    }

    /// Inserts or moves one block; unchanged blocks are not written (zero counts).
    static func upsert(
        _ state: inout State, _ event: BusyEvent, connectionID: String, memberID: String, calendarID: String
    ) -> ImportCounts {
        var event = event
        event.calendarID = calendarID
        let block = Block(memberID: memberID, connectionID: connectionID, event: event)
        if let index = state.blocks.firstIndex(where: {
            $0.connectionID == connectionID && $0.event.calendarID == calendarID && $0.event.externalEventID == event.externalEventID
        }) {
            let old = state.blocks[index].event
            guard old.start != event.start || old.end != event.end || old.isAllDay != event.isAllDay else { return ImportCounts() }
            state.blocks[index] = block
            return ImportCounts(updated: 1)
        }
        state.blocks.append(block)
        return ImportCounts(inserted: 1)
    }
}

/// An exclusive lock per key for async code (the store's row lock on a connection's credentials).
final class AsyncKeyedLock: Sendable {
    private let state = Mutex<[String: [CheckedContinuation<Void, Never>]]>([:])

    /// Runs `body` holding the lock `key`; waiters take it in arrival order.
    func withLock<T>(_ key: String, _ body: () async throws -> T) async throws -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state -> Bool in
                if let waiters = state[key] {
                    state[key] = waiters + [continuation]
                    return false
                }
                state[key] = []
                return true
            }
            if acquired { continuation.resume() }
        }
        defer {
            let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard var waiters = state[key], !waiters.isEmpty else {
                    state[key] = nil
                    return nil
                }
                let first = waiters.removeFirst()
                state[key] = waiters
                return first
            }
            next?.resume()
        }
        return try await body()
    }
}
