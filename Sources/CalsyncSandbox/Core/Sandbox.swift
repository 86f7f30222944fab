import Foundation
import Logging
import Synchronization

/// The in-memory provider sandbox: accounts, calendars, events, tokens, faults and the request log.
package final class Sandbox: Sendable {
    let state: Mutex<SandboxState>
    let logger: Logger

    /// Creates an empty sandbox.
    package init(configuration: SandboxConfiguration = .init(), logger: Logger = Logger(label: "calsync.sandbox")) {
        self.state = Mutex(SandboxState(configuration: configuration))
        self.logger = logger
    }

    /// The current configuration.
    package var configuration: SandboxConfiguration { state.withLock { $0.configuration } }

    /// Changes the configuration of a running sandbox (quotas, page sizes, paging realism).
    package func updateConfiguration(_ change: (inout SandboxConfiguration) -> Void) {
        state.withLock { change(&$0.configuration) }
    }

    static var now: Double { Date().timeIntervalSince1970 }

    // MARK: accounts and calendars

    /// Creates an account with a primary calendar (returns the existing one when it exists).
    @discardableResult
    package func createAccount(_ provider: SandboxProvider, email: String, timeZone: String = "UTC") -> SandboxAccount {
        let email = email.lowercased()
        return state.withLock { s in
            let key = AccountKey(provider: provider, email: email)
            if let existing = s.accounts[key] { return existing.publicAccount }
            let calendarID: String
            let name: String
            switch provider {
            case .google:
                calendarID = email
                name = email
            case .microsoft:
                calendarID = GraphAPI.newID()
                name = "Calendar"
            }
            let account = AccountState(provider: provider, email: email, timeZone: timeZone, primaryCalendarID: calendarID)
            account.calendars[calendarID] = CalendarState(id: calendarID, name: name, isPrimary: true)
            account.calendarOrder.append(calendarID)
            s.accounts[key] = account
            return account.publicAccount
        }
    }

    /// Adds a secondary calendar to an account and returns its id ("" when the account is unknown).
    package func addCalendar(_ provider: SandboxProvider, email: String, name: String) -> String {
        state.withLock { s in
            guard let account = s.account(provider, email) else { return "" }
            let id: String
            switch provider {
            case .google: id = SandboxRandom.string(26, alphabet: SandboxRandom.base32hex) + "@group.calendar.google.com"
            case .microsoft: id = GraphAPI.newID()
            }
            account.calendars[id] = CalendarState(id: id, name: name, isPrimary: false)
            account.calendarOrder.append(id)
            return id
        }
    }

    /// Issues a single-use authorization code, valid 10 minutes, for the account ("" when unknown).
    package func issueAuthorizationCode(_ provider: SandboxProvider, email: String, redirectURI: String) -> String {
        state.withLock { s in
            guard let account = s.account(provider, email) else { return "" }
            let code = (provider == .google ? "4/0A" : "M.C5") + SandboxRandom.token(60)
            s.codes[code] = AuthorizationCodeRecord(
                key: AccountKey(provider: provider, email: account.email), redirectURI: redirectURI,
                expires: Self.now + 600, used: false)
            return code
        }
    }

    // MARK: events

    /// Inserts an event as if the member created it in their calendar; returns its id ("" on failure).
    @discardableResult
    package func insertEvent(_ provider: SandboxProvider, email: String, calendarID: String, _ event: SandboxEvent) -> String {
        state.withLock { s in
            guard let account = s.account(provider, email), let calendar = account.calendars[calendarID] else {
                logger.warning("insertEvent: unknown account or calendar")
                return ""
            }
            let result: Result<StoredEvent, SandboxAPIError>
            switch provider {
            case .google:
                let id = event.id ?? GoogleAPI.newEventID()
                guard calendar.events[id] == nil else { return "" }
                result = GoogleAPI.write(
                    state: &s, account: account, calendar: calendar, existing: nil, id: id,
                    input: GoogleAPI.input(from: event, account: account), replace: true)
            case .microsoft:
                let id = event.id ?? GraphAPI.newID()
                guard account.eventCalendar[id] == nil else { return "" }
                result = GraphAPI.write(
                    state: &s, account: account, calendar: calendar, existing: nil, id: id,
                    input: GraphAPI.input(from: event), replace: true)
            }
            switch result {
            case .success(let stored):
                Self.store(stored, in: calendar, account: account)
                return stored.id
            case .failure(let error):
                logger.warning("insertEvent refused: \(error.message)")
                return ""
            }
        }
    }

    /// Changes an event as if the member edited it (provider fields not in `SandboxEvent` are kept).
    package func updateEvent(
        _ provider: SandboxProvider, email: String, calendarID: String, eventID: String,
        _ change: (inout SandboxEvent) -> Void
    ) {
        state.withLock { s in
            guard let account = s.account(provider, email), let calendar = account.calendars[calendarID],
                let existing = calendar.events[eventID]
            else { return }
            var event = Self.neutral(existing, provider: provider, account: account)
            change(&event)
            let result: Result<StoredEvent, SandboxAPIError>
            switch provider {
            case .google:
                result = GoogleAPI.write(
                    state: &s, account: account, calendar: calendar, existing: existing, id: eventID,
                    input: GoogleAPI.input(from: event, account: account, existing: existing), replace: false)
            case .microsoft:
                // A removed Graph event is gone for good; only its tombstone remains for delta.
                guard !existing.deleted else { return }
                result = GraphAPI.write(
                    state: &s, account: account, calendar: calendar, existing: existing, id: eventID,
                    input: GraphAPI.input(from: event), replace: false)
            }
            if case .success(let stored) = result {
                Self.store(stored, in: calendar, account: account)
            }
        }
    }

    /// Deletes an event as if the member deleted it (kept as a tombstone for sync).
    package func deleteEvent(_ provider: SandboxProvider, email: String, calendarID: String, eventID: String) {
        state.withLock { s in
            guard let account = s.account(provider, email), let calendar = account.calendars[calendarID],
                calendar.events[eventID] != nil
            else { return }
            Self.markDeleted(&s, provider: provider, calendar: calendar, eventID: eventID)
        }
    }

    /// What the provider holds now in a calendar, in creation order.
    package func events(
        _ provider: SandboxProvider, email: String, calendarID: String, includeDeleted: Bool = false
    ) -> [SandboxStoredEvent] {
        state.withLock { s in
            guard let account = s.account(provider, email), let calendar = account.calendars[calendarID] else { return [] }
            var out: [SandboxStoredEvent] = []
            for id in calendar.order {
                guard let e = calendar.events[id], includeDeleted || !e.deleted else { continue }
                out.append(
                    SandboxStoredEvent(
                        id: e.id, calendarID: calendarID, event: Self.neutral(e, provider: provider, account: account),
                        deleted: e.deleted, etag: e.etag, json: JSONValue.object(Self.renderFull(e, provider: provider)).serialized))
            }
            return out
        }
    }

    // MARK: faults and quotas

    /// Revokes every refresh token of the account: the next refresh answers 400 invalid_grant.
    package func revokeRefreshTokens(_ provider: SandboxProvider, email: String) {
        state.withLock { s in s.account(provider, email)?.refreshGeneration += 1 }
    }

    /// Expires every access token of the account: the next API call answers 401.
    package func expireAccessTokens(_ provider: SandboxProvider, email: String) {
        state.withLock { s in s.account(provider, email)?.accessGeneration += 1 }
    }

    /// Invalidates every sync/delta token of the account: the next incremental read answers 410.
    package func invalidateSyncTokens(_ provider: SandboxProvider, email: String) {
        state.withLock { s in s.account(provider, email)?.syncEpoch += 1 }
    }

    /// Sets a per-account request rate limit for tests (nil restores the configured default).
    package func setQuota(_ provider: SandboxProvider, email: String, requestsPerSecond: Double?) {
        state.withLock { s in
            guard let account = s.account(provider, email) else { return }
            account.requestsPerSecond = requestsPerSecond
            account.window.reset()
            account.recent = []
        }
    }

    /// Adds a fault and returns its id.
    package func addFault(_ fault: SandboxFault) -> String {
        state.withLock { s in
            s.faultCounter += 1
            let id = "fault-\(s.faultCounter)"
            s.faults.append(FaultEntry(id: id, fault: fault))
            return id
        }
    }

    /// Removes one fault.
    package func removeFault(id: String) {
        state.withLock { s in s.faults.removeAll { $0.id == id } }
    }

    /// Seeds the generator that decides whether a fault with a `probability` below 1 fires, so a run
    /// draws the same sequence (nil: the system generator, the default). Concurrent requests may still
    /// take the draws in a different order.
    package func seedFaults(_ seed: UInt64?) {
        state.withLock { s in s.faultRandom = seed.map { SeededRandomNumberGenerator(seed: $0) } }
    }

    /// Removes every fault.
    package func clearFaults() {
        state.withLock { s in s.faults.removeAll() }
    }

    /// Drops all state (accounts, tokens, faults, log); keeps the configuration.
    package func reset() {
        state.withLock { s in s = SandboxState(configuration: s.configuration) }
    }

    // MARK: observation

    /// Every request answered by the emulated APIs (oldest first), control API excluded.
    package func requests() -> [SandboxRequestRecord] {
        state.withLock { $0.log }
    }

    /// Empties the request log.
    package func clearRequests() {
        state.withLock { $0.log.removeAll() }
    }

    /// Every request that reached an account before the `Retry-After` the sandbox last gave that account
    /// had run out (less `retryAfterTolerance`), oldest first.
    package func earlyRequests() -> [SandboxEarlyRequest] {
        state.withLock { $0.earlyRequests }
    }

    // MARK: shared helpers

    static func store(_ stored: StoredEvent, in calendar: CalendarState, account: AccountState) {
        var stored = stored
        carrySeries(into: &stored, from: calendar.events[stored.id], provider: account.provider, account: account)
        if calendar.events[stored.id] == nil {
            var e = stored
            e.ordinal = calendar.order.count
            calendar.order.append(e.id)
            calendar.events[e.id] = e
            if account.provider == .microsoft { account.eventCalendar[e.id] = calendar.id }
        } else {
            calendar.events[stored.id] = stored
        }
    }

    static func markDeleted(_ s: inout SandboxState, provider: SandboxProvider, calendar: CalendarState, eventID: String) {
        guard var e = calendar.events[eventID] else { return }
        e.deleted = true
        e.changeSeq = calendar.nextSeq()
        if provider == .google {
            e.resource["status"] = "cancelled"
            let etag = GoogleAPI.etag(s.nextEtagNumber())
            e.etag = etag
            e.resource["etag"] = .string(etag)
            let now = SandboxTime.formatUTCMillis(Self.now)
            e.resource["updated"] = .string(now)
        }
        calendar.events[eventID] = e
    }

    static func neutral(_ e: StoredEvent, provider: SandboxProvider, account: AccountState) -> SandboxEvent {
        switch provider {
        case .google: return GoogleAPI.neutral(e, account: account)
        case .microsoft: return GraphAPI.neutral(e)
        }
    }

    static func renderFull(_ e: StoredEvent, provider: SandboxProvider) -> [String: JSONValue] {
        switch provider {
        case .google: return e.resource
        case .microsoft:
            var r = e.resource
            if !e.extendedProperties.isEmpty {
                r["singleValueExtendedProperties"] = .array(
                    e.extendedProperties.keys.sorted().map { ["id": .string($0), "value": .string(e.extendedProperties[$0] ?? "")] })
            }
            return r
        }
    }
}

/// An error an emulated API answers, rendered in the provider's error body shape.
struct SandboxAPIError: Error {
    var status: Int
    /// Google `errors[0].reason` / Graph `error.code`.
    var reason: String
    var message: String
    var headers: [(String, String)] = []

    init(_ status: Int, _ reason: String, _ message: String) {
        self.status = status
        self.reason = reason
        self.message = message
    }
}

extension Sandbox {
    /// Issues an access and a refresh token for an account directly (as after a consent), nil when unknown.
    package func issueTokens(_ provider: SandboxProvider, email: String) -> (accessToken: String, refreshToken: String)? {
        state.withLock { s in
            guard let account = s.account(provider, email) else { return nil }
            let scope = provider == .google ? OAuthEndpoints.googleScope : "https://graph.microsoft.com/Calendars.ReadWrite https://graph.microsoft.com/User.Read"
            let clientID = provider == .google ? s.configuration.googleClientID : s.configuration.microsoftClientID
            let access = OAuthEndpoints.issueAccessToken(&s, account: account, scope: scope).0
            let refresh = OAuthEndpoints.issueRefreshToken(&s, account: account, scope: scope, clientID: clientID)
            return (access, refresh)
        }
    }
}
