// CalsyncSandbox owns faithful in-memory emulators of Google Calendar v3, Microsoft Graph
// (calendar parts) and both OAuth token endpoints, served by one Hummingbird server and its router,
// plus a JSON control API (`/_sandbox/...`). It emulates from the providers' public behaviour and
// must not depend on any calsync target (only Hummingbird, Logging, Crypto and Foundation).
import Foundation

/// The provider a sandbox account, fault or request belongs to.
public enum SandboxProvider: String, Sendable, Codable, CaseIterable {
    case google, microsoft
}

/// Settings of a sandbox: client credentials, token lifetimes, quotas and page sizes.
public struct SandboxConfiguration: Sendable {
    /// The OAuth client id Google token requests must carry (default `sandbox-google-client`).
    public var googleClientID: String
    /// The OAuth client secret Google token requests must carry (default `sandbox-google-secret`).
    public var googleClientSecret: String
    /// The OAuth client id Microsoft token requests must carry (default `sandbox-microsoft-client`).
    public var microsoftClientID: String
    /// The OAuth client secret Microsoft token requests must carry (default `sandbox-microsoft-secret`).
    public var microsoftClientSecret: String
    /// How long an issued access token is valid (default 3600 s).
    public var accessTokenLifetime: Duration
    /// Google per-user quota, sliding window of one minute (default 600).
    public var googleUserRequestsPerMinute: Int
    /// Google per-project quota over all users, one-minute sliding window (default nil: off, so
    /// benchmarks are not capped; the real limit is 10,000) → 403 `rateLimitExceeded`.
    public var googleProjectRequestsPerMinute: Int?
    /// The status of a Google quota refusal: 403 (`userRateLimitExceeded`, default) or 429 (`rateLimitExceeded`).
    public var googleRateLimitStatus: Int
    /// Whether a Google quota refusal carries `Retry-After` (default true).
    public var googleSendsRetryAfter: Bool
    /// Microsoft per-mailbox limit, sliding window of ten minutes (default 10,000).
    public var microsoftMailboxRequestsPer10Minutes: Int
    /// Microsoft concurrent requests per mailbox (default 4).
    public var microsoftMailboxConcurrency: Int
    /// Largest Google `maxResults`; larger values are clamped (default 2500).
    public var googleMaxPageSize: Int
    /// Google page size when `maxResults` is absent (default 250).
    public var googleDefaultPageSize: Int
    /// Graph page size without `Prefer: odata.maxpagesize` (default 10).
    public var graphDefaultPageSize: Int
    /// Largest accepted request body in bytes (default 1 MiB); larger → 413.
    public var maxRequestBodyBytes: Int
    /// How many request records the log keeps; older ones are dropped (default 200,000).
    public var requestLogLimit: Int
    /// Google list paging realism: when set, every n-th page of a listing is empty but still
    /// carries `nextPageToken` (default nil: never).
    public var googleEmptyPageEvery: Int?
    /// Slack allowed when checking that a client waited out a `Retry-After` (default 50 ms, for clock
    /// granularity and requests already on their way): a request that arrives later than this after the
    /// answer and earlier than this before the wait ends is recorded in `earlyRequests()`.
    public var retryAfterTolerance: Duration

    /// Creates the default configuration.
    public init() {
        self.googleClientID = "sandbox-google-client"
        self.googleClientSecret = "sandbox-google-secret"
        self.microsoftClientID = "sandbox-microsoft-client"
        self.microsoftClientSecret = "sandbox-microsoft-secret"
        self.accessTokenLifetime = .seconds(3600)
        self.googleUserRequestsPerMinute = 600
        self.googleProjectRequestsPerMinute = nil
        self.googleRateLimitStatus = 403
        self.googleSendsRetryAfter = true
        self.microsoftMailboxRequestsPer10Minutes = 10_000
        self.microsoftMailboxConcurrency = 4
        self.googleMaxPageSize = 2500
        self.googleDefaultPageSize = 250
        self.graphDefaultPageSize = 10
        self.maxRequestBodyBytes = 1 << 20
        self.requestLogLimit = 200_000
        self.googleEmptyPageEvery = nil
        self.retryAfterTolerance = .milliseconds(50)
    }
}

/// A sandbox event, as a test or the control API seeds it (provider-neutral).
public struct SandboxEvent: Sendable, Codable, Equatable {
    /// The event id; nil lets the sandbox pick one.
    public var id: String?
    /// Google `summary` / Graph `subject`.
    public var summary: String
    /// Start of a timed event (UTC instant).
    public var start: Date
    /// End of a timed event (UTC instant).
    public var end: Date
    /// All-day start date `YYYY-MM-DD`; the event is all-day when set.
    public var allDayStart: String?
    /// All-day end date `YYYY-MM-DD`, exclusive.
    public var allDayEnd: String?
    /// Google `start.timeZone` / Graph `originalStartTimeZone`.
    public var timeZone: String?
    /// Google `transparency: transparent` / Graph `showAs: free`.
    public var free: Bool
    /// Graph only: free|workingElsewhere|tentative|busy|oof|unknown (overrides `free`).
    public var showAs: String?
    /// Google `status: cancelled` / Graph `isCancelled`.
    public var cancelled: Bool
    /// The account's own attendee declined.
    public var declinedBySelf: Bool
    /// Google `eventType`: default|outOfOffice|workingLocation|focusTime.
    public var eventType: String?
    /// Google `extendedProperties.private` / Graph single-value extended properties (id → value).
    public var privateProperties: [String: String]

    /// Creates a timed, busy, confirmed event.
    public init(summary: String, start: Date, end: Date) {
        self.id = nil
        self.summary = summary
        self.start = start
        self.end = end
        self.allDayStart = nil
        self.allDayEnd = nil
        self.timeZone = nil
        self.free = false
        self.showAs = nil
        self.cancelled = false
        self.declinedBySelf = false
        self.eventType = nil
        self.privateProperties = [:]
    }

    /// Decodes an event; every field but `summary`, `start` and `end` is optional.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.id = try c.decodeIfPresent(String.self, forKey: .id)
        self.summary = try c.decodeIfPresent(String.self, forKey: .summary) ?? ""
        self.start = try c.decode(Date.self, forKey: .start)
        self.end = try c.decode(Date.self, forKey: .end)
        self.allDayStart = try c.decodeIfPresent(String.self, forKey: .allDayStart)
        self.allDayEnd = try c.decodeIfPresent(String.self, forKey: .allDayEnd)
        self.timeZone = try c.decodeIfPresent(String.self, forKey: .timeZone)
        self.free = try c.decodeIfPresent(Bool.self, forKey: .free) ?? false
        self.showAs = try c.decodeIfPresent(String.self, forKey: .showAs)
        self.cancelled = try c.decodeIfPresent(Bool.self, forKey: .cancelled) ?? false
        self.declinedBySelf = try c.decodeIfPresent(Bool.self, forKey: .declinedBySelf) ?? false
        self.eventType = try c.decodeIfPresent(String.self, forKey: .eventType)
        self.privateProperties = try c.decodeIfPresent([String: String].self, forKey: .privateProperties) ?? [:]
    }
}

/// An event as the provider holds it now.
public struct SandboxStoredEvent: Sendable, Codable {
    /// The provider's event id.
    public let id: String
    /// The calendar holding it.
    public let calendarID: String
    /// The provider-neutral view of the event.
    public let event: SandboxEvent
    /// Deleted (Google: `status: cancelled` by DELETE; Graph: removed, kept for delta).
    public let deleted: Bool
    /// The current etag (Google `etag`, Graph `changeKey`).
    public let etag: String
    /// The JSON the API would return for it.
    public let json: String
}

/// An account (user or mailbox) of the sandbox.
public struct SandboxAccount: Sendable, Codable {
    /// The provider.
    public let provider: SandboxProvider
    /// The account email (Google primary calendar id, Graph `mail`).
    public let email: String
    /// The id of its primary / default calendar.
    public let primaryCalendarID: String
    /// Its IANA time zone.
    public let timeZone: String
}

/// A fault injected into answers of the emulated APIs.
public struct SandboxFault: Sendable, Codable {
    /// What the fault does.
    public enum Kind: Sendable, Codable, Equatable {
        /// Answer this status with this body (nil: the provider's error body).
        case status(Int, body: String?)
        /// Add latency, then answer normally.
        case latency(milliseconds: Int)
        /// 200 with a truncated JSON body.
        case malformedJSON
        /// 200 with a body of this many bytes.
        case hugeBody(bytes: Int)
        /// Wait this long before sending any byte, then answer normally.
        case hang(milliseconds: Int)
        /// Process the request, then answer 504 (a timeout after the write happened).
        case dropAfterProcessing
        /// Answer this redirect status (301, 302, 303, 307, 308) with this `Location`, without touching state.
        case redirect(Int, location: String)
    }

    /// The provider it applies to (nil: both).
    public var provider: SandboxProvider?
    /// A substring of the request path (e.g. `/events`, `/token`); nil: every path.
    public var pathContains: String?
    /// The HTTP method it applies to (nil: every method).
    public var method: String?
    /// What it does.
    public var kind: Kind
    /// The chance it fires on a matching request (0...1).
    public var probability: Double
    /// How many more times it fires (nil: unlimited).
    public var remaining: Int?

    /// Creates a fault that always fires on every request of both providers.
    public init(kind: Kind) {
        self.provider = nil
        self.pathContains = nil
        self.method = nil
        self.kind = kind
        self.probability = 1.0
        self.remaining = nil
    }

    /// Creates a fault restricted by provider, path and method.
    public init(
        _ kind: Kind, provider: SandboxProvider? = nil, pathContains: String? = nil, method: String? = nil,
        probability: Double = 1.0, remaining: Int? = nil
    ) {
        self.provider = provider
        self.pathContains = pathContains
        self.method = method
        self.kind = kind
        self.probability = probability
        self.remaining = remaining
    }

    /// Decodes a fault; only `kind` is required.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.provider = try c.decodeIfPresent(SandboxProvider.self, forKey: .provider)
        self.pathContains = try c.decodeIfPresent(String.self, forKey: .pathContains)
        self.method = try c.decodeIfPresent(String.self, forKey: .method)
        self.kind = try c.decode(Kind.self, forKey: .kind)
        self.probability = try c.decodeIfPresent(Double.self, forKey: .probability) ?? 1.0
        self.remaining = try c.decodeIfPresent(Int.self, forKey: .remaining)
    }
}

/// One request the emulated APIs answered.
public struct SandboxRequestRecord: Sendable, Codable {
    /// The provider (nil for unknown paths).
    public let provider: SandboxProvider?
    /// HTTP method.
    public let method: String
    /// Full request path.
    public let path: String
    /// Raw query string (nil when absent).
    public let query: String?
    /// Answered status.
    public let status: Int
    /// The authenticated account's email, when the bearer token was valid.
    public let account: String?
    /// When the request arrived.
    public let time: Date

    /// Whether this request could change provider state (POST, PUT, PATCH, DELETE on the API, not token calls).
    public var isWrite: Bool {
        method != "GET" && !path.contains("/oauth2/") && !path.hasSuffix("/freeBusy")
    }
}

/// A request that reached an account before the `Retry-After` the sandbox had given that account ran out.
public struct SandboxEarlyRequest: Sendable, Codable {
    /// The provider.
    public let provider: SandboxProvider
    /// The account the bearer token belongs to.
    public let account: String
    /// HTTP method.
    public let method: String
    /// Full request path.
    public let path: String
    /// When the request arrived.
    public let time: Date
    /// When the account's `Retry-After` ran out (the answer's time plus its seconds).
    public let allowedAt: Date
    /// The status of the answer that carried the `Retry-After` (429, 503, 403 …).
    public let status: Int
}

/// A small seeded generator (SplitMix64): the same seed gives the same sequence of draws.
public struct SeededRandomNumberGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The base URLs of a running sandbox.
public struct SandboxEndpoints: Sendable {
    /// `http://HOST:PORT`.
    public let baseURL: String
    /// Google Calendar v3 base (`CALSYNC_GOOGLE_API_URL`).
    public var googleAPI: String
    /// Google token endpoint (`CALSYNC_GOOGLE_TOKEN_URL`).
    public var googleToken: String
    /// Microsoft Graph v1.0 base (`CALSYNC_MICROSOFT_GRAPH_URL`).
    public var graph: String
    /// Microsoft token endpoint (`CALSYNC_MICROSOFT_TOKEN_URL`).
    public var microsoftToken: String
    /// Control API base.
    public var control: String

    /// Derives every base URL from `http://HOST:PORT`.
    public init(baseURL: String) {
        self.baseURL = baseURL
        self.googleAPI = baseURL + "/google/calendar/v3"
        self.googleToken = baseURL + "/google/oauth2/token"
        self.graph = baseURL + "/microsoft/v1.0"
        self.microsoftToken = baseURL + "/microsoft/oauth2/v2.0/token"
        self.control = baseURL + "/_sandbox"
    }
}
