import CalsyncJobs
import CalsyncSync
import Foundation
import Synchronization

/// A calendar provider in memory that records its calls and can be scripted. It behaves like Google: an
/// event's id is derived from its appointment (`ExportKey.googleEventID`), a delete of a missing event
/// succeeds, an authorization code is single-use. Each request passes the rate-limit gate and the job's
/// run check as the HTTP transport does, so fenced writes, lost leases and rate limits act on it.
package final class RecordingProvider: CalendarProvider, Sendable {
    /// The kinds of request, for scripting and counting.
    package enum Operation: String, Sendable, Hashable, CaseIterable {
        case exchangeCode, refresh, listCalendars, upsertEvent, deleteEvent, removeStrayEvents, readBusy, readBusyChanges
    }

    /// What one request does before (or instead of) its normal answer.
    package enum Step: Sendable {
        /// Answers with this error; the request counts as answered (it cannot land later).
        case fail(ProviderError)
        /// Sends the request and gets no answer (a timeout): throws `error`, and the request may still land
        /// at the provider: `landHeldWrites()` applies it later (an upsert or delete).
        case noAnswer(ProviderError)
        /// Waits this long, then answers normally.
        case delay(Duration)
        /// Fires `reached`, waits for `resume`, then answers normally.
        case pause(reached: Signal, resume: Signal)
    }

    /// One recorded request.
    package struct Call: Sendable, Hashable {
        package var operation: Operation
        /// The calendar, when the request names one.
        package var calendarID: String?
        /// The appointment's export key marker, when the request is about one.
        package var marker: String?
        /// The access token the request carried (tests assert which one; never logged).
        package var accessToken: String?
        /// The export key's generation, for an upsert (a new one after the event was removed).
        package var generation: Int64?
    }

    /// One event in the provider's calendars.
    package struct Event: Sendable, Hashable {
        package var id: String
        package var calendarID: String
        package var rendered: RenderedEvent
    }

    /// The provider's state.
    package struct State: Sendable {
        package var calls: [Call] = []
        package var steps: [Operation: [Step]] = [:]
        /// calendar id → event id → event (the exported events).
        package var events: [String: [String: Event]] = [:]
        /// Creates so far (an upsert of an id that did not exist).
        package var creates = 0
        /// Busy events each calendar shows to a read (the provider's own busy rules already applied).
        package var busy: [String: [BusyEvent]] = [:]
        /// What the next incremental read of a calendar returns (then nothing).
        package var changes: [String: BusyChanges] = [:]
        /// Codes already redeemed (a second exchange is refused as `invalid_grant`).
        package var redeemedCodes: Set<String> = []
        /// Whether the refresh token was revoked: refreshes answer `invalid_grant`.
        package var revoked = false
        package var refreshes = 0
        package var fullReads = 0
        package var changeReads = 0
        /// Writes whose answer never came, applied by `landHeldWrites()`.
        package var held: [@Sendable (inout State) -> Void] = []
        /// Whether reads report calsync's own events (two-way compares only then).
        package var reportsOwnEvents = true
        /// Whether reads leave calsync's own events out (as CalDAV did before it reported them).
        package var hidesOwnEvents = false
        /// Whether an incremental removal may mean "left the window" (Graph): removals are read again by id.
        package var removalsNeedConfirmation = false
        /// Ids read again after a removal.
        package var confirmedRemovals: [String] = []
        /// What the next video meeting requests answer, one each (none left: no video links).
        package var videoOutcomes: [VideoLinkOutcome] = []
    }

    package let name: String
    /// The account's primary calendar id.
    package let primaryCalendarID: String
    /// The account's email address.
    package let accountEmail: String
    package let state = Mutex(State())

    /// Creates a provider named `name` (`google`, `microsoft`) with one primary calendar.
    package init(name: String = "google", accountEmail: String = "a@x.test", primaryCalendarID: String? = nil) {
        self.name = name
        self.accountEmail = accountEmail
        self.primaryCalendarID = primaryCalendarID ?? "\(accountEmail)-primary"
    }

    // MARK: Scripting and reading back

    /// Queues steps for the next requests of `operation`, one per request.
    package func script(_ operation: Operation, _ steps: Step...) {
        state.withLock { $0.steps[operation, default: []].append(contentsOf: steps) }
    }

    /// The requests so far, optionally only those of one operation.
    package func calls(_ operation: Operation? = nil) -> [Call] {
        state.withLock { state in state.calls.filter { operation == nil || $0.operation == operation } }
    }

    /// The events of a calendar (the primary one by default).
    package func events(in calendarID: String? = nil) -> [Event] {
        state.withLock { Array(($0.events[calendarID ?? primaryCalendarID] ?? [:]).values) }
    }

    /// Sets the busy events a calendar shows (the primary one by default).
    package func setBusy(_ events: [BusyEvent], in calendarID: String? = nil) {
        state.withLock { $0.busy[calendarID ?? primaryCalendarID] = events }
    }

    /// Applies the writes whose answers never came: they land now.
    package func landHeldWrites() {
        state.withLock { state in
            let held = state.held
            state.held = []
            for write in held { write(&state) }
        }
    }

    // MARK: One request

    /// Records the call, runs its scripted step and passes the gate as the HTTP transport does; then `answer`.
    private func request<T: Sendable>(
        _ call: Call, held: (@Sendable (inout State) -> Void)? = nil, _ answer: () throws -> T
    ) async throws -> T {
        let gate = ProviderRequestGate.current
        let permit = try await gate?.beforeRequest()
        do {
            let value = try await send(call, held: held, gate: gate, answer)
            if let gate, let permit { await gate.afterRequest(permit: permit) }
            return value
        } catch {
            if let gate, let permit { await gate.afterRequest(permit: permit) }
            throw error
        }
    }

    /// Sends one request past the gate: the job's run check, the scripted step, the answer.
    private func send<T: Sendable>(
        _ call: Call, held: (@Sendable (inout State) -> Void)?, gate: ProviderRequestGate?, _ answer: () throws -> T
    ) async throws -> T {
        try ProviderRequestGate.checkJobHeld()
        let step = state.withLock { state -> Step? in
            state.calls.append(call)
            return state.steps[call.operation]?.isEmpty == false ? state.steps[call.operation]?.removeFirst() : nil
        }
        switch step {
        case .fail(let error):
            ProviderRequestGate.noteAnswered(status: error.httpStatus ?? 400)
            if let wait = error.retryAfter, wait > .zero { await gate?.penalize(for: wait) }
            throw error
        case .noAnswer(let error):
            if let held { state.withLock { $0.held.append(held) } }
            throw error
        case .delay(let duration):
            try await Task.sleep(for: duration)
        case .pause(let reached, let resume):
            reached.fire()
            await resume.wait()
        case nil:
            break
        }
        let value = try answer()
        ProviderRequestGate.noteAnswered(status: 200)
        return value
    }

    /// The `invalid_grant` answer of a token endpoint.
    package static let invalidGrant = ProviderError(
        code: .init("invalid_grant"), kind: .reconnectRequired, httpStatus: 400,
        message: "the calendar's authorization was revoked or expired; reconnect the calendar")

    // MARK: CalendarProvider

    package func exchangeCode(_ code: String, redirectURI: String) async throws -> ProviderCredentials {
        try await request(Call(operation: .exchangeCode)) {
            try state.withLock { state in
                guard state.redeemedCodes.insert(code).inserted else { throw Self.invalidGrant }
                return ProviderCredentials(
                    accessToken: "at-\(state.redeemedCodes.count)", refreshToken: "rt-\(state.redeemedCodes.count)",
                    expiresAt: Date().addingTimeInterval(3600), accountEmail: accountEmail)
            }
        }
    }

    package func refresh(_ credentials: ProviderCredentials) async throws -> ProviderCredentials {
        try await request(Call(operation: .refresh, accessToken: credentials.accessToken)) {
            try state.withLock { state in
                guard !state.revoked else { throw Self.invalidGrant }
                state.refreshes += 1
                // Rotates the refresh token every time, as Microsoft does.
                return ProviderCredentials(
                    accessToken: "at-fresh-\(state.refreshes)", refreshToken: "rt-fresh-\(state.refreshes)",
                    expiresAt: Date().addingTimeInterval(3600))
            }
        }
    }

    package func listCalendars(_ credentials: ProviderCredentials) async throws -> [ProviderCalendar] {
        try await request(Call(operation: .listCalendars, accessToken: credentials.accessToken)) {
            [ProviderCalendar(id: primaryCalendarID, name: accountEmail, isPrimary: true, timeZone: "UTC")]
        }
    }

    package func upsertEvent(
        _ event: RenderedEvent, key: ExportKey, calendarID: String, knownEventID: String?, credentials: ProviderCredentials
    ) async throws -> String {
        let id = knownEventID ?? key.googleEventID
        let apply: @Sendable (inout State) -> Void = { state in
            if state.events[calendarID]?[id] == nil { state.creates += 1 }
            state.events[calendarID, default: [:]][id] = Event(id: id, calendarID: calendarID, rendered: event)
        }
        let call = Call(
            operation: .upsertEvent, calendarID: calendarID, marker: key.markerValue, accessToken: credentials.accessToken,
            generation: key.generation)
        return try await request(call, held: apply) {
            state.withLock { apply(&$0) }
            return id
        }
    }

    package func deleteEvent(key: ExportKey, calendarID: String, knownEventID: String?, credentials: ProviderCredentials) async throws {
        let marker = key.markerValue
        let apply: @Sendable (inout State) -> Void = { state in
            if let knownEventID {
                state.events[calendarID]?[knownEventID] = nil
            } else {
                state.events[calendarID] = state.events[calendarID]?.filter { $0.value.rendered.markerValue != marker }
            }
        }
        let call = Call(operation: .deleteEvent, calendarID: calendarID, marker: marker, accessToken: credentials.accessToken)
        try await request(call, held: apply) { state.withLock { apply(&$0) } }
    }

    package func removeStrayEvents(
        key: ExportKey, calendarID: String, keeping eventID: String, credentials: ProviderCredentials
    ) async throws {
        let marker = key.markerValue
        let call = Call(operation: .removeStrayEvents, calendarID: calendarID, marker: marker, accessToken: credentials.accessToken)
        try await request(call) {
            state.withLock { state in
                state.events[calendarID] = state.events[calendarID]?.filter {
                    $0.key == eventID || $0.value.rendered.markerValue != marker
                }
            }
        }
    }

    package func readBusy(
        calendarID: String, window: DateInterval, memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> BusySnapshot {
        try await request(Call(operation: .readBusy, calendarID: calendarID, accessToken: credentials.accessToken)) {
            state.withLock { state in
                state.fullReads += 1
                let inside = (state.busy[calendarID] ?? []).filter { $0.start < window.end && $0.end > window.start }
                var snapshot = BusySnapshot(events: inside, cursor: SyncCursor("full-\(state.fullReads)"))
                snapshot.ownEvents = state.hidesOwnEvents
                    ? [] : Self.ownEvents(state, calendarID).filter { $0.start < window.end && $0.end > window.start }
                return snapshot
            }
        }
    }

    package func readBusyChanges(
        calendarID: String, cursor: SyncCursor, memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> BusyChanges {
        try await request(Call(operation: .readBusyChanges, calendarID: calendarID, accessToken: credentials.accessToken)) {
            state.withLock { state in
                state.changeReads += 1
                var changes = state.changes.removeValue(forKey: calendarID) ?? BusyChanges(upserts: [], removedEventIDs: [], cursor: nil)
                changes.cursor = SyncCursor("delta-\(state.changeReads)")
                // A removal is the id's last word in the read (Graph's `@removed`, Google's `cancelled`).
                let removed = Set(changes.removedEventIDs)
                changes.ownEvents = state.hidesOwnEvents
                    ? [] : Self.ownEvents(state, calendarID).filter { !removed.contains($0.externalEventID) }
                return changes
            }
        }
    }
}

extension RecordingProvider {
    /// calsync's events in a calendar as a read shows them (two-way): every event the double holds, with its times.
    static func ownEvents(_ state: State, _ calendarID: String) -> [OwnEvent] {
        (state.events[calendarID] ?? [:]).values.sorted { $0.id < $1.id }.map {
            OwnEvent(externalEventID: $0.id, start: $0.rendered.start, end: $0.rendered.end)
        }
    }

    /// Moves an event as the member would in the calendar app.
    package func memberMoves(_ eventID: String, calendarID: String? = nil, to start: Date, end: Date) {
        state.withLock { state in
            state.events[calendarID ?? primaryCalendarID]?[eventID]?.rendered.start = start
            state.events[calendarID ?? primaryCalendarID]?[eventID]?.rendered.end = end
        }
    }

    /// Deletes an event as the member would; the next incremental read reports its id removed.
    package func memberDeletes(_ eventID: String, calendarID: String? = nil) {
        state.withLock { state in
            let calendar = calendarID ?? primaryCalendarID
            state.events[calendar]?[eventID] = nil
            var changes = state.changes[calendar] ?? BusyChanges(upserts: [], removedEventIDs: [], cursor: nil)
            changes.removedEventIDs.append(eventID)
            state.changes[calendar] = changes
        }
    }
}

/// Providers by kind: the given doubles, nil for any other kind.
package struct ProviderDirectoryDouble: ProviderDirectory {
    package let providers: [ProviderKind: any CalendarProvider]

    /// A directory of these providers.
    package init(_ providers: [ProviderKind: any CalendarProvider]) { self.providers = providers }

    package func provider(_ kind: ProviderKind) -> (any CalendarProvider)? { providers[kind] }
}

// Two-way capabilities and video links, scripted (review findings 1, 2, 7).
extension RecordingProvider {
    package var reportsOwnEvents: Bool { state.withLock { $0.reportsOwnEvents } }

    package func ownEventAfterRemoval(id: String, calendarID: String, credentials: ProviderCredentials) async throws -> OwnEvent? {
        state.withLock { state in
            guard state.removalsNeedConfirmation else { return nil }
            state.confirmedRemovals.append(id)
            return Self.ownEvents(state, calendarID).first { $0.externalEventID == id }
        }
    }

    package func ensureVideoLink(
        _ event: RenderedEvent, key: ExportKey, written: WrittenEvent, calendarID: String, credentials: ProviderCredentials
    ) async throws -> VideoLinkResult? {
        state.withLock { state in
            state.videoOutcomes.isEmpty ? nil : VideoLinkResult(outcome: state.videoOutcomes.removeFirst(), etag: nil)
        }
    }

    /// Moves an event out of a delta window as Graph reports it: still there, its id reported removed.
    package func memberMovesOutOfWindow(_ eventID: String, calendarID: String? = nil, to start: Date, end: Date) {
        memberMoves(eventID, calendarID: calendarID, to: start, end: end)
        state.withLock { state in
            let calendar = calendarID ?? primaryCalendarID
            var changes = state.changes[calendar] ?? BusyChanges(upserts: [], removedEventIDs: [], cursor: nil)
            changes.removedEventIDs.append(eventID)
            state.changes[calendar] = changes
        }
    }
}
