import Foundation

/// One stored event of a calendar (provider JSON plus what filtering needs).
struct StoredEvent {
    var id: String
    /// The provider resource as the API returns it (Google: with etag/updated; Graph: without extended properties).
    var resource: [String: JSONValue]
    /// Start and end instants (seconds since 1970) for window filtering.
    var startInstant: Double
    var endInstant: Double
    var deleted: Bool
    var etag: String
    /// The calendar's change counter value of the last change.
    var changeSeq: Int
    /// Position in the calendar's `order`.
    var ordinal: Int
    /// Graph single-value extended properties (id → value).
    var extendedProperties: [String: String]
    /// A recurring event's rule, zone and instance changes (nil: a single event). See `Sandbox+Recurrence.swift`.
    var series: SeriesState? = nil
}

/// A calendar with its events, indexed by id and by creation order.
final class CalendarState {
    let id: String
    var name: String
    let isPrimary: Bool
    var events: [String: StoredEvent] = [:]
    var order: [String] = []
    var changeSeq = 0

    init(id: String, name: String, isPrimary: Bool) {
        self.id = id
        self.name = name
        self.isPrimary = isPrimary
    }

    func nextSeq() -> Int {
        changeSeq += 1
        return changeSeq
    }
}

/// A sliding-window request counter (the weighted two-bucket approximation): O(1) memory per account.
struct RateWindow {
    private var bucketStart = 0.0
    private var current = 0
    private var previous = 0
    private var window = 0.0

    /// Admits a request at `now`, or returns the seconds until one would be admitted.
    mutating func admit(now: Double, limit: Int, window: Double) -> Double? {
        guard limit > 0, window > 0 else { return max(window, 1) }
        if window != self.window {
            self = RateWindow()
            self.window = window
            bucketStart = (now / window).rounded(.down) * window
        }
        if now - bucketStart >= window {
            let buckets = ((now - bucketStart) / window).rounded(.down)
            previous = buckets == 1 ? current : 0
            current = 0
            bucketStart += buckets * window
        }
        let elapsed = min(1, max(0, (now - bucketStart) / window))
        let weighted = Double(previous) * (1 - elapsed) + Double(current)
        guard weighted + 1 > Double(limit) else {
            current += 1
            return nil
        }
        if current + 1 > limit || previous == 0 {
            return max(0.001, window - (now - bucketStart))
        }
        let needed = 1 - Double(limit - current - 1) / Double(previous)
        return max(0.001, (needed - elapsed) * window)
    }

    mutating func reset() {
        self = RateWindow()
    }
}

/// An account (Google user or Microsoft mailbox).
final class AccountState {
    let provider: SandboxProvider
    let email: String
    let timeZone: String
    var calendars: [String: CalendarState] = [:]
    var calendarOrder: [String] = []
    var primaryCalendarID: String
    var accessGeneration = 0
    var refreshGeneration = 0
    var syncEpoch = 0
    /// Graph: event id → calendar id (ids are unique per mailbox).
    var eventCalendar: [String: String] = [:]
    /// Graph: transaction ids already used by creates.
    var transactionIDs: Set<String> = []
    var window = RateWindow()
    var inFlight = 0
    var requestsPerSecond: Double?
    /// Arrival times of the last second's requests, for an exact sliding window under `requestsPerSecond` ≥ 1.
    var recent: [Double] = []
    /// When the latest `Retry-After` given to this account was answered and when it runs out (seconds since 1970).
    var retryAfterFrom = 0.0
    var retryAfterUntil = 0.0
    /// The status of the answer that carried that `Retry-After`.
    var retryAfterStatus = 0

    init(provider: SandboxProvider, email: String, timeZone: String, primaryCalendarID: String) {
        self.provider = provider
        self.email = email
        self.timeZone = timeZone
        self.primaryCalendarID = primaryCalendarID
    }

    var primary: CalendarState? { calendars[primaryCalendarID] }

    var publicAccount: SandboxAccount {
        SandboxAccount(provider: provider, email: email, primaryCalendarID: primaryCalendarID, timeZone: timeZone)
    }
}

struct AccountKey: Hashable {
    let provider: SandboxProvider
    let email: String
}

struct AccessTokenRecord {
    let key: AccountKey
    let generation: Int
    let expires: Double
    let scope: String
}

struct RefreshTokenRecord {
    let key: AccountKey
    let generation: Int
    let scope: String
    let clientID: String
    /// Microsoft: set when rotated away (a reuse answers AADSTS700082).
    var rotated: Bool
}

struct AuthorizationCodeRecord {
    let key: AccountKey
    let redirectURI: String
    let expires: Double
    var used: Bool
}

struct FaultEntry {
    let id: String
    var fault: SandboxFault
}

/// Everything a sandbox holds, guarded by one mutex.
struct SandboxState {
    var configuration: SandboxConfiguration
    var accounts: [AccountKey: AccountState] = [:]
    var accessTokens: [String: AccessTokenRecord] = [:]
    var refreshTokens: [String: RefreshTokenRecord] = [:]
    var codes: [String: AuthorizationCodeRecord] = [:]
    var faults: [FaultEntry] = []
    var log: [SandboxRequestRecord] = []
    var googleProjectWindow = RateWindow()
    var etagCounter = 0
    var faultCounter = 0
    /// Decides whether a probabilistic fault fires; nil: the system generator.
    var faultRandom: SeededRandomNumberGenerator?
    /// Requests that arrived before their account's `Retry-After` ran out.
    var earlyRequests: [SandboxEarlyRequest] = []

    init(configuration: SandboxConfiguration) {
        self.configuration = configuration
    }

    mutating func nextEtagNumber() -> Int {
        etagCounter += 1
        return etagCounter
    }

    func account(_ provider: SandboxProvider, _ email: String) -> AccountState? {
        accounts[AccountKey(provider: provider, email: email.lowercased())]
    }
}

/// Random identifiers in the providers' alphabets.
enum SandboxRandom {
    static let base32hex = Array("0123456789abcdefghijklmnopqrstuv".utf8)
    static let urlSafe = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func string(_ count: Int, alphabet: [UInt8]) -> String {
        var g = SystemRandomNumberGenerator()
        var bytes = [UInt8]()
        bytes.reserveCapacity(count)
        for _ in 0..<count {
            bytes.append(alphabet[Int(g.next() % UInt64(alphabet.count))])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func token(_ count: Int = 40) -> String { string(count, alphabet: urlSafe) }
}

/// Opaque tokens (page, sync, delta) carrying colon-separated fields.
enum OpaqueToken {
    static func make(_ fields: [String]) -> String {
        let raw = Data(fields.joined(separator: "\u{1F}").utf8).base64EncodedString()
        return raw.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func read(_ token: String) -> [String]? {
        var s = token.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while s.count % 4 != 0 { s += "=" }
        guard let data = Data(base64Encoded: s), let text = String(data: data, encoding: .utf8) else { return nil }
        return text.components(separatedBy: "\u{1F}")
    }
}
