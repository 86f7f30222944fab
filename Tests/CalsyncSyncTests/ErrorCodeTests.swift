import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import CalsyncSync
import Testing

/// Error codes are typed values whose text never changes: it is in dead records, metric labels and the docs.
@Suite("Typed error codes")
struct ErrorCodeTests {
    @Test func codesKeepTheirText() {
        #expect(ProviderError.Code.rateLimited.rawValue == "rate_limited")
        #expect(ProviderError.Code.fullResyncRequired.description == "full_resync_required")
        #expect(JobError.Code.invalidJob.rawValue == "invalid_job" && JobError.invalid("x").code == .invalidJob)
        #expect(QueueError.Code.invalidPayload.rawValue == "invalid_payload")
        #expect(RedisError.Code.connectionFailed.rawValue == "connection_failed" && RedisError.closed.code == .closed)
        #expect(CredentialSealError.Code.unknownKey.rawValue == "unknown_key")
    }

    @Test func aProviderCodePassedToAJobKeepsItsText() {
        let failure = ProviderError.retryable(.quotaExceeded, status: 403, "quota")
        let job = JobError.retryable(JobError.Code(failure.code.rawValue), failure.message)
        #expect(job.code == .init("quota_exceeded") && "\(job.code)" == "quota_exceeded")
        #expect(job.description == "quota_exceeded: quota")
    }
}
