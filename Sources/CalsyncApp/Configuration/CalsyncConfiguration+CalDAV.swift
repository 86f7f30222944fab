import CalsyncCalDAV
import CalsyncSyncRedis

extension CalsyncConfiguration {
    /// Reads the CalDAV client's keys (`CALSYNC_CALDAV_*`).
    mutating func readCalDAV(_ values: Values) throws {
        caldav.multigetBatch = try values.int("CALSYNC_CALDAV_MULTIGET_BATCH", default: caldav.multigetBatch, range: 1...10_000)
        caldav.connectionConcurrency = try values.int(
            "CALSYNC_CALDAV_CONNECTION_CONCURRENCY", default: caldav.connectionConcurrency, range: 0...1000)
        caldav.hostRequestsPerSecond = Double(
            try values.int("CALSYNC_CALDAV_HOST_REQUESTS_PER_SECOND", default: Int(caldav.hostRequestsPerSecond), range: 0...100_000))
    }

    /// The CalDAV limits as the rate limiter takes them: the per-connection concurrency cap, and each server
    /// host's own bucket (the limiter's provider bucket of `caldav:<host>`).
    package var caldavRateLimits: ProviderRateLimits {
        ProviderRateLimits(
            appPerSecond: caldav.hostRequestsPerSecond > 0 ? caldav.hostRequestsPerSecond : nil, connectionPerSecond: nil,
            connectionConcurrency: caldav.connectionConcurrency > 0 ? caldav.connectionConcurrency : nil)
    }
}
