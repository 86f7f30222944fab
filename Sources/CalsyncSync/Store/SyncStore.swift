import Foundation

/// Where a connection stands (`calendar_connections.status`).
package enum ConnectionStatus: String, Sendable, Hashable, Codable {
    case active
    case reconnectRequired = "reconnect_required"
    case disconnected
}

/// Which way a connection syncs (`calendar_connections.sync_direction`).
package enum SyncDirection: String, Sendable, Hashable, Codable {
    case both, outbound, inbound

    /// Whether appointments are exported to this connection.
    package var exports: Bool { self != .inbound }
    /// Whether busy time is imported from this connection.
    package var imports: Bool { self != .outbound }
}

/// One row of `calendar_connections`, as the sync rules need it.
package struct ConnectionRecord: Sendable, Hashable {
    package var id: String
    package var memberID: String
    package var provider: ProviderKind
    package var accountEmail: String?
    package var status: ConnectionStatus
    package var statusDetail: String?
    package var exportCalendarID: String?
    package var busyCalendarIDs: [String]
    package var syncDirection: SyncDirection
    package var eventDetails: EventDetails
    package var credentials: SealedCredentials?

    /// Creates a record.
    package init(
        id: String, memberID: String, provider: ProviderKind, accountEmail: String?, status: ConnectionStatus,
        statusDetail: String?, exportCalendarID: String?, busyCalendarIDs: [String], syncDirection: SyncDirection,
        eventDetails: EventDetails, credentials: SealedCredentials?
    ) {
        self.id = id
        self.memberID = memberID
        self.provider = provider
        self.accountEmail = accountEmail
        self.status = status
        self.statusDetail = statusDetail
        self.exportCalendarID = exportCalendarID
        self.busyCalendarIDs = busyCalendarIDs
        self.syncDirection = syncDirection
        self.eventDetails = eventDetails
        self.credentials = credentials
    }
}

/// A member, its organization's eligibility and its connections: what every job looks up first.
package struct MemberSyncState: Sendable, Equatable {
    package var memberID: String
    package var organizationID: String
    /// The member's IANA time zone (all-day events span its midnights); UTC when unknown.
    package var timeZone: TimeZone
    /// Sync enabled and plan `pro` or `advanced` (contract §4).
    package var eligible: Bool
    package var connections: [ConnectionRecord]
    /// Whether exports are parked for this member.
    package var hasParkedChanges: Bool

    /// Creates a state.
    package init(
        memberID: String, organizationID: String, timeZone: TimeZone, eligible: Bool,
        connections: [ConnectionRecord], hasParkedChanges: Bool
    ) {
        self.memberID = memberID
        self.organizationID = organizationID
        self.timeZone = timeZone
        self.eligible = eligible
        self.connections = connections
        self.hasParkedChanges = hasParkedChanges
    }

    /// The member's single export destination, whatever its status.
    package var exportConnection: ConnectionRecord? {
        connections.first { $0.syncDirection.exports && $0.status != .disconnected }
            ?? connections.first { $0.syncDirection.exports }
    }

    /// The connection to a provider.
    package func connection(_ provider: ProviderKind) -> ConnectionRecord? {
        connections.first { $0.provider == provider }
    }
}

/// What was last applied for one appointment in one member's calendar.
package struct ExportState: Sendable, Hashable {
    /// The newest revision applied (an export or a delete).
    package var appliedRevision: Int64
    package var connectionID: String?
    package var calendarID: String?
    package var externalEventID: String?
    /// `RenderedEvent.contentHash` of what the provider holds, when it holds the event.
    package var contentHash: String?
    /// Whether the provider holds the event now.
    package var eventPresent: Bool
    /// When the applied revision must be written again: an older write whose outcome is unknown may land
    /// until then (nil: nothing pending).
    package var verifyAfter: Date?
    /// The event's version as the provider last answered calsync (Google `etag`, Graph `@odata.etag`): the
    /// next update or delete is conditional on it (`If-Match`).
    package var etag: String?
    /// The times calsync wrote for the applied revision, when the event is present (two-way, contract §8).
    package var written: DateInterval?
    /// The applied revision's `export_appointment` payload, kept so that `restore` can write it back.
    package var appliedPayload: [UInt8]?
    /// The event's video join URL, once the provider made one (contract §9).
    package var videoURL: String?

    /// Creates a state.
    package init(
        appliedRevision: Int64, connectionID: String?, calendarID: String?, externalEventID: String?,
        contentHash: String?, eventPresent: Bool, verifyAfter: Date? = nil, etag: String? = nil
    ) {
        self.appliedRevision = appliedRevision
        self.connectionID = connectionID
        self.calendarID = calendarID
        self.externalEventID = externalEventID
        self.contentHash = contentHash
        self.eventPresent = eventPresent
        self.verifyAfter = verifyAfter
        self.etag = etag
    }
}

/// What a job must know before it writes an appointment's event: what was applied, and whether a write of
/// an older revision whose outcome is unknown (a timeout, a cancellation, a lost answer, a crash) may still land.
package struct ExportFence: Sendable, Hashable {
    /// What was applied; nil when nothing ever was.
    package var state: ExportState?
    /// Until when an older revision's unsettled write may still land; nil when there is none.
    package var olderUnsettledUntil: Date?
    /// Until when an unsettled write of an earlier attempt of this very revision may still land: harmless
    /// where event ids are derived from the appointment, a possible second event where the provider picks them.
    package var sameRevisionUnsettledUntil: Date?

    /// Creates a fence.
    package init(state: ExportState?, olderUnsettledUntil: Date? = nil, sameRevisionUnsettledUntil: Date? = nil) {
        self.state = state
        self.olderUnsettledUntil = olderUnsettledUntil
        self.sameRevisionUnsettledUntil = sameRevisionUnsettledUntil
    }
}

/// A provider write about to go out, recorded first (write-ahead): until `settlesAt` its outcome is
/// unknown unless its job settles it by recording what it applied.
package struct ProviderWriteIntent: Sendable, Hashable {
    package var memberID: String
    package var appointmentID: String
    package var revision: Int64
    /// Unique per write.
    package var token: String
    /// The latest moment the request can still land at the provider (its deadline plus the settle margin).
    package var settlesAt: Date

    /// Creates an intent.
    package init(memberID: String, appointmentID: String, revision: Int64, token: String, settlesAt: Date) {
        self.memberID = memberID
        self.appointmentID = appointmentID
        self.revision = revision
        self.token = token
        self.settlesAt = settlesAt
    }
}

/// An export or delete that could not run (connection not active, organization ineligible).
package struct ParkedChange: Sendable, Hashable {
    /// What to do when it can run again.
    package enum Kind: String, Sendable, Hashable {
        case export, delete
    }

    package var memberID: String
    package var appointmentID: String
    package var revision: Int64
    package var kind: Kind
    /// The job's payload text, to enqueue again as is.
    package var payload: [UInt8]
    /// When the appointment ends (exports of ended appointments are not replayed).
    package var endsAt: Date?
    /// Why it was parked (`reconnect_required`, `ineligible`, …).
    package var reason: String

    /// Creates a parked change.
    package init(
        memberID: String, appointmentID: String, revision: Int64, kind: Kind, payload: [UInt8], endsAt: Date?,
        reason: String
    ) {
        self.memberID = memberID
        self.appointmentID = appointmentID
        self.revision = revision
        self.kind = kind
        self.payload = payload
        self.endsAt = endsAt
        self.reason = reason
    }
}

/// What a connect job found at the provider.
package struct NewConnection: Sendable {
    package var memberID: String
    package var provider: ProviderKind
    package var accountEmail: String?
    package var primaryCalendarID: String
    package var credentials: SealedCredentials
    package var accessTokenExpiresAt: Date?
    /// The `connect_calendar` job that saves it (a rerun of that job finds it and redeems no code again).
    package var jobID: String?

    /// Creates the description of a new (or renewed) connection.
    package init(
        memberID: String, provider: ProviderKind, accountEmail: String?, primaryCalendarID: String,
        credentials: SealedCredentials, accessTokenExpiresAt: Date?, jobID: String? = nil
    ) {
        self.memberID = memberID
        self.provider = provider
        self.accountEmail = accountEmail
        self.primaryCalendarID = primaryCalendarID
        self.credentials = credentials
        self.accessTokenExpiresAt = accessTokenExpiresAt
        self.jobID = jobID
    }
}

/// How many busy-block rows an import wrote.
package struct ImportCounts: Sendable, Hashable {
    package var inserted = 0
    package var updated = 0
    package var deleted = 0

    /// Creates counts.
    package init(inserted: Int = 0, updated: Int = 0, deleted: Int = 0) {
        self.inserted = inserted
        self.updated = updated
        self.deleted = deleted
    }

    /// Rows written in all.
    package var rowsWritten: Int { inserted + updated + deleted }

    /// Adds two counts.
    package static func + (lhs: ImportCounts, rhs: ImportCounts) -> ImportCounts {
        ImportCounts(inserted: lhs.inserted + rhs.inserted, updated: lhs.updated + rhs.updated, deleted: lhs.deleted + rhs.deleted)
    }
}

/// The persistence the sync rules need; the PostgreSQL store implements it. Every method is one
/// transaction; none holds a transaction open across a provider call except `withCredentialLock`.
package protocol SyncStore: Sendable {
    /// The member, its eligibility and connections; nil when the member is unknown.
    func memberState(_ memberID: String) async throws -> MemberSyncState?

    /// What was last applied for (member, appointment), and the unsettled writes of revisions up to `revision`.
    func exportState(memberID: String, appointmentID: String, revision: Int64) async throws -> ExportFence

    /// `memberState` and `exportState` together (one round trip where the store can); nil when the member is unknown.
    func memberState(_ memberID: String, exportOf appointmentID: String, revision: Int64) async throws -> (MemberSyncState, ExportFence)?

    /// Records an applied revision unless a newer (or equal) one was applied meanwhile (returns false then).
    /// Clears parked changes up to that revision; when the provider was called, stamps that connection's
    /// outbound success (`last_outbound_sync_at`, error cleared). Settles the job's own write (`writeToken`)
    /// and, when applied, the older unsettled writes, which `state.verifyAfter` then covers.
    func recordExport(
        memberID: String, appointmentID: String, revision: Int64, state: ExportState, calledConnectionID: String?,
        writeToken: String?
    ) async throws -> Bool

    /// Records a provider write before it goes out.
    func beginProviderWrite(_ intent: ProviderWriteIntent) async throws

    /// Settles a write whose answer said it did not happen (a refusal): its outcome is known.
    func settleProviderWrite(memberID: String, appointmentID: String, token: String) async throws

    /// The exports in one calendar of a connection, with what could make their provider state not the
    /// member's (two-way, contract §8); stores without two-way answer none.
    func exportedEvents(memberID: String, connectionID: String, calendarID: String) async throws -> ExportedEvents

    /// Records an external change once (dedupe on appointment, applied revision, change and times); true when new.
    func recordExternalChange(_ change: ExternalChange) async throws -> Bool

    /// Marks the applied revision to be written again (`verify_after` now), unless something is pending already;
    /// true when marked: then the caller enqueues the applied payload (the restore of `external_changes = restore`).
    func requestRestore(memberID: String, appointmentID: String, revision: Int64) async throws -> Bool

    /// The member's recorded external changes not yet published (an outbox: a failed publish is retried).
    func unpublishedExternalChanges(memberID: String) async throws -> [UnpublishedExternalChange]

    /// Marks a recorded external change published.
    func markExternalChangePublished(id: Int64) async throws

    /// The member's recorded video join URLs not yet published as `appointment.video_link`.
    func unpublishedVideoLinks(memberID: String) async throws -> [UnpublishedVideoLink]

    /// Marks an export's video join URL published (only while it is still the recorded one).
    func markVideoLinkPublished(memberID: String, appointmentID: String, url: String) async throws

    /// Records that the applied `revision` was written again after every older write settled: clears
    /// `verify_after` (when it is still `verifyAfter`) and stores where the event is. False when a newer
    /// revision was applied meanwhile.
    func recordVerification(
        memberID: String, appointmentID: String, revision: Int64, verifyAfter: Date, state: ExportState, writeToken: String
    ) async throws -> Bool

    /// Stamps an outbound attempt of a connection (error nil on success); not on a `disconnected` one.
    func recordOutboundAttempt(connectionID: String, error: String?) async throws

    /// Notes that a connection may not call its provider before `until` (`calendar_connections.rate_limited_until`).
    func recordRateLimited(connectionID: String, until: Date) async throws

    /// Stamps an inbound attempt of a connection (error nil on success); not on a `disconnected` one.
    func recordInboundAttempt(connectionID: String, error: String?) async throws

    /// An import of these connections' rolling window started (it holds the member's import lock): the scheduler's "already
    /// queued" mark is cleared, so that the next import is enqueued as soon as it is due.
    func importStarted(connectionIDs: [String]) async throws

    /// Parks a change, keeping only the newest revision per (member, appointment).
    func park(_ change: ParkedChange) async throws

    /// Takes the parked changes of a member for replay (marks them so that concurrent jobs do not replay them twice).
    func takeParkedChanges(memberID: String, now: Date) async throws -> [ParkedChange]

    /// Creates the member's connection to a provider, or renews it in place (reconnect: mappings kept).
    func saveConnection(_ connection: NewConnection) async throws -> ConnectionRecord

    /// Whether the member's connection to `provider` was last saved, and is active, by the connect job `jobID`.
    func connectionSaved(byJob jobID: String, memberID: String, provider: ProviderKind) async throws -> Bool

    /// Sets a connection's status and the detail a person can act on; false (nothing changed) when the
    /// connection is `disconnected`: a disconnect wins, only `saveConnection` (a reconnect) reactivates it.
    @discardableResult
    func setStatus(connectionID: String, status: ConnectionStatus, detail: String?) async throws -> Bool

    /// Disconnects: status `disconnected`, credentials erased, the connection's busy blocks and cursors deleted.
    /// From then on no write of the other methods acts on the connection until a reconnect.
    func disconnect(connectionID: String, detail: String) async throws

    /// Runs `body` holding an exclusive lock on the connection's credentials (across processes),
    /// with the credentials as stored now; what `body` returns is stored before the lock is released.
    /// A `disconnected` connection returns nil without running `body`.
    func withCredentialLock(
        connectionID: String,
        _ body: @Sendable (SealedCredentials?) async throws -> CredentialUpdate
    ) async throws -> SealedCredentials?

    /// The incremental cursor of a busy calendar, when one is stored.
    func cursor(connectionID: String, calendarID: String) async throws -> SyncCursor?

    /// Replaces the busy blocks of one calendar within `window` by `events` (insert new, move changed,
    /// delete gone), in one transaction. What else changes depends on `scope`: a rolling read also drops
    /// blocks that ended before the window and stores its cursor; an explicit one changes nothing else.
    /// A `disconnected` connection gets nothing written (zero counts), even when it was active at the read.
    func replaceBusyBlocks(
        connectionID: String, memberID: String, calendarID: String, window: DateInterval, events: [BusyEvent],
        scope: BusyReadScope
    ) async throws -> ImportCounts

    /// Applies incremental changes to one calendar's busy blocks and stores the new cursor, in one transaction.
    /// Like `replaceBusyBlocks`, it writes nothing (zero counts) for a `disconnected` connection.
    func applyBusyChanges(
        connectionID: String, memberID: String, calendarID: String, upserts: [BusyEvent], removedEventIDs: [String],
        cursor: SyncCursor?
    ) async throws -> ImportCounts
}

/// What a full read of one calendar covered, and so what its answer may change.
package enum BusyReadScope: Sendable, Hashable {
    /// The rolling window: the read is the calendar's whole truth from the window's start on. Blocks in
    /// the window that it did not return are gone, blocks that ended before the window are dropped, and
    /// its cursor replaces the stored one (nil: the stored one is removed).
    case rolling(cursor: SyncCursor?)
    /// An explicit window (`window_start`/`window_end`): only blocks that overlap it change, events outside
    /// it are ignored, and the stored cursor stays as it was (it belongs to the rolling window).
    case explicit

    /// Whether an interval overlaps `window` (end exclusive; an instant counts when it lies inside).
    package static func overlaps(start: Date, end: Date, _ window: DateInterval) -> Bool {
        start < window.end && (end > window.start || (end <= start && start >= window.start))
    }
}

/// What to store after holding the credential lock.
package enum CredentialUpdate: Sendable {
    /// Keep what is stored.
    case keep
    /// Store these sealed credentials (e.g. a refreshed, rotated token).
    case store(SealedCredentials, expiresAt: Date?)
}

extension SyncStore {
    /// The two reads one after the other, for stores that cannot do them in one.
    package func memberState(_ memberID: String, exportOf appointmentID: String, revision: Int64) async throws -> (MemberSyncState, ExportFence)? {
        guard let member = try await memberState(memberID) else { return nil }
        return (member, try await exportState(memberID: memberID, appointmentID: appointmentID, revision: revision))
    }

    /// Records an applied revision that made no provider write of its own.
    package func recordExport(
        memberID: String, appointmentID: String, revision: Int64, state: ExportState, calledConnectionID: String?
    ) async throws -> Bool {
        try await recordExport(
            memberID: memberID, appointmentID: appointmentID, revision: revision, state: state,
            calledConnectionID: calledConnectionID, writeToken: nil)
    }
}
