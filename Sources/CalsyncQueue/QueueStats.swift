import CalsyncJobs
import Foundation

/// A snapshot of the queues (`calsync queues`).
package struct QueueStats: Sendable, Codable, Equatable {
    /// Ready (not yet claimed) jobs per type.
    package let ready: [String: Int]
    /// Scheduled (retry, deferral, hand-back) jobs per type, and isolated ones waiting to run alone.
    package let scheduled: [String: Int]
    /// Jobs claimed and not yet finished.
    package let inFlight: Int
    /// Dead records.
    package let dead: Int
    /// Dead records removed by trimming so far.
    package let deadTrimmed: Int
    /// Age of the oldest ready job with an `enqueued_at`, in seconds.
    package let oldestJobAgeSeconds: Double?

    /// Creates a snapshot.
    package init(ready: [String: Int], scheduled: [String: Int], inFlight: Int, dead: Int, deadTrimmed: Int, oldestJobAgeSeconds: Double?) {
        self.ready = ready
        self.scheduled = scheduled
        self.inFlight = inFlight
        self.dead = dead
        self.deadTrimmed = deadTrimmed
        self.oldestJobAgeSeconds = oldestJobAgeSeconds
    }

    enum CodingKeys: String, CodingKey {
        case ready, scheduled
        case inFlight = "in_flight"
        case dead
        case deadTrimmed = "dead_trimmed"
        case oldestJobAgeSeconds = "oldest_job_age_seconds"
    }
}

/// One dead-lettered job (`calsync dead show`).
package struct DeadRecord: Sendable, Codable, Equatable {
    /// The job's id when it parsed, else `invalid-<n>`.
    package let id: String
    /// The type of the list it came from.
    package let type: String?
    /// `invalid_job`, `forbidden`, `attempts_exhausted`, `lease_expired`, `deferrals_exhausted`, …
    package let reason: String
    /// The last error message.
    package let error: String?
    /// The last HTTP status.
    package let httpStatus: Int?
    /// Failed runs (retryable failures plus the final one).
    package let attempts: Int
    /// The first failure of the job.
    package let firstFailedAt: Date
    /// The failure that made it dead.
    package let lastFailedAt: Date
    /// The job text as received (secret fields redacted when it parsed).
    package let raw: String

    /// Creates a record.
    package init(id: String, type: String?, reason: String, error: String?, httpStatus: Int?, attempts: Int, firstFailedAt: Date, lastFailedAt: Date, raw: String) {
        self.id = id
        self.type = type
        self.reason = reason
        self.error = error
        self.httpStatus = httpStatus
        self.attempts = attempts
        self.firstFailedAt = firstFailedAt
        self.lastFailedAt = lastFailedAt
        self.raw = raw
    }

    enum CodingKeys: String, CodingKey {
        case id, type, reason, error
        case httpStatus = "http_status"
        case attempts
        case firstFailedAt = "first_failed_at"
        case lastFailedAt = "last_failed_at"
        case raw
    }

    /// Encodes every key (null when absent); dates as RFC 3339 UTC with milliseconds.
    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(type, forKey: .type)
        try container.encode(reason, forKey: .reason)
        try container.encode(error, forKey: .error)
        try container.encode(httpStatus, forKey: .httpStatus)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(RFC3339.format(firstFailedAt), forKey: .firstFailedAt)
        try container.encode(RFC3339.format(lastFailedAt), forKey: .lastFailedAt)
        try container.encode(raw, forKey: .raw)
    }

    /// Decodes what `encode(to:)` writes.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        type = try container.decodeIfPresent(String.self, forKey: .type)
        reason = try container.decode(String.self, forKey: .reason)
        error = try container.decodeIfPresent(String.self, forKey: .error)
        httpStatus = try container.decodeIfPresent(Int.self, forKey: .httpStatus)
        attempts = try container.decode(Int.self, forKey: .attempts)
        func date(_ key: CodingKeys) throws -> Date {
            let text = try container.decode(String.self, forKey: key)
            guard let date = RFC3339.parse(Array(text.utf8)) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not RFC 3339")
            }
            return date
        }
        firstFailedAt = try date(.firstFailedAt)
        lastFailedAt = try date(.lastFailedAt)
        raw = try container.decode(String.self, forKey: .raw)
    }
}
