import Foundation

/// What calsync needs from a calendar provider (Google, Microsoft Graph, …): OAuth, calendars,
/// idempotent writes of exported appointments, and busy reads. Implementations classify every
/// failure as a ``ProviderError``; this protocol knows nothing of HTTP.
package protocol CalendarProvider: Sendable {
    /// The provider's stable name (`google`, `microsoft`): safe as a metric label.
    var name: String { get }

    /// Exchanges an OAuth authorization code for credentials.
    func exchangeCode(_ code: String, redirectURI: String) async throws -> ProviderCredentials

    /// Refreshes the access token. The result may carry a rotated refresh token: persist it at once.
    func refresh(_ credentials: ProviderCredentials) async throws -> ProviderCredentials

    /// Lists the account's calendars; the primary one carries its real id, never an alias.
    func listCalendars(_ credentials: ProviderCredentials) async throws -> [ProviderCalendar]

    /// Creates or updates the event of one appointment, safe to retry; returns the external event id.
    func upsertEvent(
        _ event: RenderedEvent,
        key: ExportKey,
        calendarID: String,
        knownEventID: String?,
        credentials: ProviderCredentials
    ) async throws -> String

    /// Deletes the event of one appointment; an event that is already gone counts as success.
    func deleteEvent(
        key: ExportKey,
        calendarID: String,
        knownEventID: String?,
        credentials: ProviderCredentials
    ) async throws

    /// Creates or updates the event of one appointment; with `knownETag` the update is conditional
    /// (`If-Match`), so that it applies only over the version calsync last wrote, and a request of an older
    /// revision that arrives late is refused by the provider. Returns the event's id and new version.
    func upsertEvent(
        _ event: RenderedEvent,
        key: ExportKey,
        calendarID: String,
        knownEventID: String?,
        knownETag: String?,
        credentials: ProviderCredentials
    ) async throws -> WrittenEvent

    /// Deletes the event of one appointment, conditionally (`If-Match`) when `knownETag` is given.
    func deleteEvent(
        key: ExportKey,
        calendarID: String,
        knownEventID: String?,
        knownETag: String?,
        credentials: ProviderCredentials
    ) async throws

    /// Deletes every event of the appointment in the calendar except `keeping`: an older create that landed
    /// late under another id. Providers whose event ids are derived from the appointment have none.
    func removeStrayEvents(
        key: ExportKey,
        calendarID: String,
        keeping eventID: String,
        credentials: ProviderCredentials
    ) async throws

    /// Whether a create that lands late can make a second event of one appointment (the provider picks event
    /// ids, and a transaction id may have changed between attempts). False where ids derive from the appointment.
    var lateCreateMayDuplicate: Bool { get }

    /// Reads every busy event of a calendar over a window (full sync) and a cursor for later changes.
    func readBusy(
        calendarID: String,
        window: DateInterval,
        memberTimeZone: TimeZone,
        credentials: ProviderCredentials
    ) async throws -> BusySnapshot

    /// Reads what changed since `cursor` (incremental sync); throws `.fullResyncRequired` when the cursor expired.
    func readBusyChanges(
        calendarID: String,
        cursor: SyncCursor,
        memberTimeZone: TimeZone,
        credentials: ProviderCredentials
    ) async throws -> BusyChanges

    /// Gives the written event its video meeting (contract §9) unless it has one, and reads its join URL; nil for
    /// a provider without video links (see `Providers/VideoLink.swift`).
    func ensureVideoLink(
        _ event: RenderedEvent, key: ExportKey, written: WrittenEvent, calendarID: String, credentials: ProviderCredentials
    ) async throws -> VideoLinkResult?

    /// Whether reads report calsync's own events (`ownEvents`); two-way compares only such providers
    /// (see `Sync/ExternalChanges.swift`).
    var reportsOwnEvents: Bool { get }

    /// An own event an incremental read reported removed, read again: nil when it is gone, else its times now
    /// (Graph's delta also removes events that merely left the window).
    func ownEventAfterRemoval(id: String, calendarID: String, credentials: ProviderCredentials) async throws -> OwnEvent?
}

/// OAuth credentials of one connection; `description` never shows a token.
package struct ProviderCredentials: Sendable, Hashable, Codable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The bearer token for API calls.
    package var accessToken: String
    /// The refresh token (Microsoft rotates it on every refresh).
    package var refreshToken: String?
    /// When the access token expires.
    package var expiresAt: Date
    /// The provider account's email address, when known.
    package var accountEmail: String?
    /// The granted scopes, space separated, when the provider reported them.
    package var scope: String?

    /// Creates credentials.
    package init(accessToken: String, refreshToken: String?, expiresAt: Date, accountEmail: String? = nil, scope: String? = nil) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
        self.accountEmail = accountEmail
        self.scope = scope
    }

    /// Whether the access token expires within `margin` of `now`.
    package func expires(within margin: Duration, now: Date = Date()) -> Bool {
        expiresAt.timeIntervalSince(now) <= Double(margin.components.seconds)
    }

    /// A redacted rendering: tokens are never shown.
    package var description: String {
        "ProviderCredentials(accessToken: [redacted], refreshToken: \(refreshToken == nil ? "nil" : "[redacted]"), "
            + "expiresAt: \(expiresAt), accountEmail: \(accountEmail == nil ? "nil" : "[set]"), scope: \(scope ?? "nil"))"
    }

    /// A redacted rendering: tokens are never shown.
    package var debugDescription: String { description }
}

/// One calendar of a provider account.
package struct ProviderCalendar: Sendable, Hashable, Codable {
    /// The calendar's real id (never an alias such as `primary`).
    package var id: String
    /// Its display name.
    package var name: String
    /// Whether it is the account's primary calendar.
    package var isPrimary: Bool
    /// Its IANA time zone, when reported.
    package var timeZone: String?

    /// Creates a calendar description.
    package init(id: String, name: String, isPrimary: Bool, timeZone: String?) {
        self.id = id
        self.name = name
        self.isPrimary = isPrimary
        self.timeZone = timeZone
    }
}

/// One busy event read from a provider: times only, nothing personal.
package struct BusyEvent: Sendable, Hashable, Codable {
    /// The provider's event id (instance id for recurring events).
    package var externalEventID: String
    /// The calendar it was read from.
    package var calendarID: String
    /// Start (UTC instant).
    package var start: Date
    /// End (UTC instant, exclusive).
    package var end: Date
    /// Whether it is an all-day event (times are midnight to midnight in the member's time zone).
    package var isAllDay: Bool

    /// Creates a busy event.
    package init(externalEventID: String, calendarID: String, start: Date, end: Date, isAllDay: Bool) {
        self.externalEventID = externalEventID
        self.calendarID = calendarID
        self.start = start
        self.end = end
        self.isAllDay = isAllDay
    }
}

/// An opaque position in a calendar's change feed (Google sync token, Graph delta link).
package struct SyncCursor: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The provider's token or URL, stored as is.
    package var value: String

    /// Wraps a provider cursor.
    package init(_ value: String) { self.value = value }

    /// The cursor without its value (delta links can be long): safe to log.
    package var description: String { "SyncCursor(\(value.count) chars)" }
}

/// The result of a full busy read: the busy events of the window and where to continue from.
package struct BusySnapshot: Sendable, Hashable {
    /// The busy events, one per external event id.
    package var events: [BusyEvent]
    /// The cursor for the next incremental read, when the provider gave one.
    package var cursor: SyncCursor?
    /// calsync's own exported events found in the window, with their current times (two-way, contract §8).
    package var ownEvents: [OwnEvent] = []

    /// Creates a snapshot.
    package init(events: [BusyEvent], cursor: SyncCursor?) {
        self.events = events
        self.cursor = cursor
    }
}

/// The result of an incremental busy read.
package struct BusyChanges: Sendable, Hashable {
    /// Events that are busy now (new or changed).
    package var upserts: [BusyEvent]
    /// External event ids that are no longer busy (deleted, cancelled, declined, made free, …).
    package var removedEventIDs: [String]
    /// The cursor for the next incremental read.
    package var cursor: SyncCursor?
    /// calsync's own exported events whose last word is "present", with their current times (two-way, contract §8);
    /// an own event deleted or cancelled since shows up in `removedEventIDs` only.
    package var ownEvents: [OwnEvent] = []

    /// Creates a change set.
    package init(upserts: [BusyEvent], removedEventIDs: [String], cursor: SyncCursor?) {
        self.upserts = upserts
        self.removedEventIDs = removedEventIDs
        self.cursor = cursor
    }
}

/// Accumulates events read page by page, keeping the last word per event id.
package struct BusyChangeAccumulator: Sendable {
    private var order: [String] = []
    private var state: [String: BusyEvent?] = [:]

    /// Creates an empty accumulator.
    package init() {}

    /// Records that an event is busy now.
    package mutating func busy(_ event: BusyEvent) {
        if state.updateValue(event, forKey: event.externalEventID) == nil { order.append(event.externalEventID) }
    }

    /// Records that an event is not busy (or gone).
    package mutating func notBusy(_ id: String) {
        if state.updateValue(BusyEvent?.none, forKey: id) == nil { order.append(id) }
    }

    /// The busy events, in first-seen order.
    package var events: [BusyEvent] { order.compactMap { state[$0] ?? nil } }

    /// The ids whose last word was "not busy".
    package var removedIDs: [String] {
        order.filter { id in
            if case .some(.none) = state[id] { return true }
            return false
        }
    }
}

/// An event as the provider answered a write: its id and, where the provider has one, its version (Google's
/// `etag`, Graph's `@odata.etag`), for the next conditional write.
package struct WrittenEvent: Sendable, Hashable {
    package var id: String
    package var etag: String?
    /// What became of the event's video meeting, when one was asked for (nil: not asked, or no video links).
    package var video: VideoLinkResult?

    /// Creates a written event.
    package init(id: String, etag: String?) {
        self.id = id
        self.etag = etag
    }
}

extension CalendarProvider {
    /// Providers without conditional writes: the unconditional write.
    package func upsertEvent(
        _ event: RenderedEvent, key: ExportKey, calendarID: String, knownEventID: String?, knownETag: String?,
        credentials: ProviderCredentials
    ) async throws -> WrittenEvent {
        WrittenEvent(
            id: try await upsertEvent(event, key: key, calendarID: calendarID, knownEventID: knownEventID, credentials: credentials),
            etag: nil)
    }

    /// Providers without conditional writes: the unconditional delete.
    package func deleteEvent(
        key: ExportKey, calendarID: String, knownEventID: String?, knownETag: String?, credentials: ProviderCredentials
    ) async throws {
        try await deleteEvent(key: key, calendarID: calendarID, knownEventID: knownEventID, credentials: credentials)
    }

    /// Event ids derived from the appointment (Google): a late create lands on the same event.
    package var lateCreateMayDuplicate: Bool { false }

    /// Event ids derived from the appointment (Google): one appointment can only ever have one event.
    package func removeStrayEvents(
        key: ExportKey, calendarID: String, keeping eventID: String, credentials: ProviderCredentials
    ) async throws {}
}
