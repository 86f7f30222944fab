// CalsyncSandbox owns faithful in-memory emulators of Google Calendar v3, Microsoft Graph
// (calendar parts) and both OAuth token endpoints, served by one Hummingbird server and its router,
// plus a JSON control API (`/_sandbox/...`). It emulates from the providers' public behaviour and
// must not depend on any calsync target (only Hummingbird, Logging, Crypto and Foundation).
import Foundation

/// The provider a sandbox account, fault or request belongs to.
package enum SandboxProvider: String, Sendable, Codable, CaseIterable {
    case google, microsoft
}

/// Settings of a sandbox: client credentials, token lifetimes, quotas and page sizes.
package struct SandboxConfiguration: Sendable {
    /// The OAuth client id Google token requests must carry (default `sandbox-google-client`).
    package var googleClientID: String
    /// The OAuth client secret Google token requests must carry (default `sandbox-google-secret`).
    package var googleClientSecret: String
    /// The OAuth client id Microsoft token requests must carry (default `sandbox-microsoft-client`).
    package var microsoftClientID: String
    /// The OAuth client secret Microsoft token requests must carry (default `sandbox-microsoft-secret`).
    package var microsoftClientSecret: String
    /// How long an issued access token is valid (default 3600 s).
    package var accessTokenLifetime: Duration
    /// Google per-user quota, sliding window of one minute (default 600).
    package var googleUserRequestsPerMinute: Int
    /// Google per-project quota over all users, one-minute sliding window (default nil: off, so
    /// benchmarks are not capped; the real limit is 10,000) → 403 `rateLimitExceeded`.
    package var googleProjectRequestsPerMinute: Int?
    /// The status of a Google quota refusal: 403 (`userRateLimitExceeded`, default) or 429 (`rateLimitExceeded`).
    package var googleRateLimitStatus: Int
    /// Whether a Google quota refusal carries `Retry-After` (default true).
    package var googleSendsRetryAfter: Bool
    /// Microsoft per-mailbox limit, sliding window of ten minutes (default 10,000).
    package var microsoftMailboxRequestsPer10Minutes: Int
    /// Microsoft concurrent requests per mailbox (default 4).
    package var microsoftMailboxConcurrency: Int
    /// Largest Google `maxResults`; larger values are clamped (default 2500).
    package var googleMaxPageSize: Int
    /// Google page size when `maxResults` is absent (default 250).
    package var googleDefaultPageSize: Int
    /// Graph page size without `Prefer: odata.maxpagesize` (default 10).
    package var graphDefaultPageSize: Int
    /// Largest accepted request body in bytes (default 1 MiB); larger → 413.
    package var maxRequestBodyBytes: Int
    /// How many request records the log keeps; older ones are dropped (default 200,000).
    package var requestLogLimit: Int
    /// Google list paging realism: when set, every n-th page of a listing is empty but still
    /// carries `nextPageToken` (default nil: never).
    package var googleEmptyPageEvery: Int?
    /// Slack allowed when checking that a client waited out a `Retry-After` (default 50 ms, for clock
    /// granularity and requests already on their way): a request that arrives later than this after the
    /// answer and earlier than this before the wait ends is recorded in `earlyRequests()`.
    package var retryAfterTolerance: Duration

    /// Creates the default configuration.
    package init() {
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
package struct SandboxEvent: Sendable, Codable, Equatable {
    /// The event id; nil lets the sandbox pick one.
    package var id: String?
    /// Google `summary` / Graph `subject`.
    package var summary: String
    /// Start of a timed event (UTC instant).
    package var start: Date
    /// End of a timed event (UTC instant).
    package var end: Date
    /// All-day start date `YYYY-MM-DD`; the event is all-day when set.
    package var allDayStart: String?
    /// All-day end date `YYYY-MM-DD`, exclusive.
    package var allDayEnd: String?
    /// Google `start.timeZone` / Graph `originalStartTimeZone`.
    package var timeZone: String?
    /// Google `transparency: transparent` / Graph `showAs: free`.
    package var free: Bool
    /// Graph only: free|workingElsewhere|tentative|busy|oof|unknown (overrides `free`).
    package var showAs: String?
    /// Google `status: cancelled` / Graph `isCancelled`.
    package var cancelled: Bool
    /// The account's own attendee declined.
    package var declinedBySelf: Bool
    /// Google `eventType`: default|outOfOffice|workingLocation|focusTime.
    package var eventType: String?
    /// Google `extendedProperties.private` / Graph single-value extended properties (id → value).
    package var privateProperties: [String: String]

    /// Creates a timed, busy, confirmed event.
    package init(summary: String, start: Date, end: Date) {
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
    package init(from decoder: any Decoder) throws {
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
package struct SandboxStoredEvent: Sendable, Codable {
    /// The provider's event id.
    package let id: String
    /// The calendar holding it.
    package let calendarID: String
    /// The provider-neutral view of the event.
    package let event: SandboxEvent
    /// Deleted (Google: `status: cancelled` by DELETE; Graph: removed, kept for delta).
    package let deleted: Bool
    /// The current etag (Google `etag`, Graph `changeKey`).
    package let etag: String
    /// The JSON the API would return for it.
    package let json: String
}

/// An account (user or mailbox) of the sandbox.
package struct SandboxAccount: Sendable, Codable {
    /// The provider.
    package let provider: SandboxProvider
    /// The account email (Google primary calendar id, Graph `mail`).
    package let email: String
    /// The id of its primary / default calendar.
    package let primaryCalendarID: String
    /// Its IANA time zone.
    package let timeZone: String
}

/// A fault injected into answers of the emulated APIs.
package struct SandboxFault: Sendable, Codable {
    /// What the fault does.
    package enum Kind: Sendable, Codable, Equatable {
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
    package var provider: SandboxProvider?
    /// A substring of the request path (e.g. `/events`, `/token`); nil: every path.
    package var pathContains: String?
    /// The HTTP method it applies to (nil: every method).
    package var method: String?
    /// What it does.
    package var kind: Kind
    /// The chance it fires on a matching request (0...1).
    package var probability: Double
    /// How many more times it fires (nil: unlimited).
    package var remaining: Int?

    /// Creates a fault that always fires on every request of both providers.
    package init(kind: Kind) {
        self.provider = nil
        self.pathContains = nil
        self.method = nil
        self.kind = kind
        self.probability = 1.0
        self.remaining = nil
    }

    /// Creates a fault restricted by provider, path and method.
    package init(
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
    package init(from decoder: any Decoder) throws {
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
package struct SandboxRequestRecord: Sendable, Codable {
    /// The provider (nil for unknown paths).
    package let provider: SandboxProvider?
    /// HTTP method.
    package let method: String
    /// Full request path.
    package let path: String
    /// Raw query string (nil when absent).
    package let query: String?
    /// Answered status.
    package let status: Int
    /// The authenticated account's email, when the bearer token was valid.
    package let account: String?
    /// When the request arrived.
    package let time: Date

    /// Whether this request could change provider state (POST, PUT, PATCH, DELETE on the API, not token calls).
    package var isWrite: Bool {
        method != "GET" && !path.contains("/oauth2/") && !path.hasSuffix("/freeBusy")
    }
}

/// A request that reached an account before the `Retry-After` the sandbox had given that account ran out.
package struct SandboxEarlyRequest: Sendable, Codable {
    /// The provider.
    package let provider: SandboxProvider
    /// The account the bearer token belongs to.
    package let account: String
    /// HTTP method.
    package let method: String
    /// Full request path.
    package let path: String
    /// When the request arrived.
    package let time: Date
    /// When the account's `Retry-After` ran out (the answer's time plus its seconds).
    package let allowedAt: Date
    /// The status of the answer that carried the `Retry-After` (429, 503, 403 …).
    package let status: Int
}

/// A small seeded generator (SplitMix64): the same seed gives the same sequence of draws.
package struct SeededRandomNumberGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// Creates a generator from a seed.
    package init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The base URLs of a running sandbox.
package struct SandboxEndpoints: Sendable {
    /// `http://HOST:PORT`.
    package let baseURL: String
    /// Google Calendar v3 base (`CALSYNC_GOOGLE_API_URL`).
    package var googleAPI: String
    /// Google token endpoint (`CALSYNC_GOOGLE_TOKEN_URL`).
    package var googleToken: String
    /// Microsoft Graph v1.0 base (`CALSYNC_MICROSOFT_GRAPH_URL`).
    package var graph: String
    /// Microsoft token endpoint (`CALSYNC_MICROSOFT_TOKEN_URL`).
    package var microsoftToken: String
    /// Control API base.
    package var control: String

    /// Derives every base URL from `http://HOST:PORT`.
    package init(baseURL: String) {
        self.baseURL = baseURL
        self.googleAPI = baseURL + "/google/calendar/v3"
        self.googleToken = baseURL + "/google/oauth2/token"
        self.graph = baseURL + "/microsoft/v1.0"
        self.microsoftToken = baseURL + "/microsoft/oauth2/v2.0/token"
        self.control = baseURL + "/_sandbox"
    }
}
