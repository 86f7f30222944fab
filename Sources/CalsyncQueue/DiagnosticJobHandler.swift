import CalsyncJobs
import CalsyncRedis
import Foundation

/// A handler for tests and demos: job type `diag_echo`, payload
/// `{"sleep_ms": Int?, "fail_times": Int?, "fail_kind": "retryable"|"permanent"|"defer"?, "retry_after_ms": Int?}`.
/// It fails as told while `attempt <= fail_times`, else sleeps and `RPUSH <prefix>:diag:done <job id>`.
package struct DiagnosticJobHandler: JobHandler {
    /// `diag_echo`.
    package static let type = "diag_echo"
    /// `diag_echo`.
    package var jobType: String { Self.type }
    private let redis: RedisClient
    private let doneKey: String

    /// Creates the handler; completions go to `<prefix>:diag:done`.
    package init(redis: RedisClient, prefix: String) {
        self.redis = redis
        self.doneKey = "\(prefix):diag:done"
    }

    private struct Payload: Decodable {
        var sleep_ms: Int?
        var fail_times: Int?
        var fail_kind: String?
        var retry_after_ms: Int?
    }

    /// Runs the diagnostic job.
    package func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        let payload: Payload
        do {
            payload = try JSONDecoder().decode(Payload.self, from: Data(job.payload))
        } catch {
            throw JobError.invalid("diag_echo payload: \(error)")
        }
        let failTimes = payload.fail_times ?? 0
        if job.attempt <= failTimes {
            let kind = payload.fail_kind ?? "retryable"
            switch kind {
            case "permanent":
                throw JobError.permanent(.diagPermanent, "told to fail permanently", reason: "permanent_error", httpStatus: 400)
            case "defer":
                let ms = payload.retry_after_ms ?? 0
                if context.deferrals < failTimes {
                    throw JobError.deferred(.diagDefer, "told to defer", for: .milliseconds(ms))
                }
            default:
                let retryAfter = payload.retry_after_ms.map { Duration.milliseconds($0) }
                throw JobError.retryable(.diagRetryable, "told to fail (attempt \(job.attempt))", retryAfter: retryAfter, httpStatus: 503)
            }
        }
        if let ms = payload.sleep_ms, ms > 0 {
            try await Task.sleep(for: .milliseconds(ms))
        }
        _ = try await redis.send(["RPUSH", doneKey, job.id])
        return .completed
    }
}
