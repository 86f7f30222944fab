/// The metadata keys of calsync's logs, each written once here. Every logged error goes under
/// `error` (its description) and, when it has one, `errorCode` (its stable code).
package enum LogKey {
    /// An error's description (never a token or a customer's details: errors carry none).
    package static let error = "calsync.error"
    /// An error's stable code.
    package static let errorCode = "calsync.error.code"
    /// The job's id.
    package static let jobID = "calsync.job.id"
    /// The job's type.
    package static let jobType = "calsync.job.type"
    /// Several job types, comma-separated.
    package static let jobTypes = "calsync.job.types"
    /// The run's attempt number.
    package static let jobAttempt = "calsync.job.attempt"
    /// Why a job was skipped.
    package static let jobSkipReason = "calsync.job.skip_reason"
    /// A job's time limit in seconds.
    package static let jobTimeoutSeconds = "calsync.job.timeout_s"
    /// The engine's task id of a job.
    package static let taskID = "calsync.task.id"
    /// A dead record's id.
    package static let deadID = "calsync.dead.id"
    /// A dead record's reason.
    package static let deadReason = "calsync.dead.reason"
    /// The delay before a retry, in milliseconds.
    package static let retryDelayMilliseconds = "calsync.retry.delay_ms"
    /// The wait a rate limit imposes, in milliseconds.
    package static let retryAfterMilliseconds = "calsync.retry_after_ms"
    /// The worker's id.
    package static let workerID = "calsync.worker.id"
    /// The worker's concurrency.
    package static let workerConcurrency = "calsync.worker.concurrency"
    /// The job types a worker runs.
    package static let workerTypes = "calsync.worker.types"
    /// Jobs in flight.
    package static let workerInFlight = "calsync.worker.in_flight"
    /// Jobs whose lease was lost.
    package static let workerLost = "calsync.worker.lost"
    /// Consecutive Redis failures.
    package static let redisFailures = "calsync.redis.failures"
    /// The member's id.
    package static let memberID = "calsync.member.id"
    /// The calendar connection's id.
    package static let connectionID = "calsync.connection.id"
    /// The provider (`google`, `microsoft`).
    package static let provider = "calsync.provider"
    /// An event's export key.
    package static let exportKey = "calsync.export.key"
    /// How many provider events were skipped.
    package static let skipped = "calsync.skipped"
    /// A provider request's HTTP method.
    package static let httpMethod = "calsync.http.method"
    /// A provider request's path (never its query: it may hold a token).
    package static let httpPath = "calsync.http.path"
    /// A provider answer's HTTP status.
    package static let httpStatus = "calsync.http.status"
    /// A provider request's duration in milliseconds.
    package static let httpMilliseconds = "calsync.http.ms"
    /// The scheduler replica's id.
    package static let schedulerReplica = "calsync.scheduler.replica"
    /// A migration's version.
    package static let migrationVersion = "calsync.migration.version"
    /// A migration's name.
    package static let migrationName = "calsync.migration.name"
}
