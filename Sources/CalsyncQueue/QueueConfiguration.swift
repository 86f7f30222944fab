// CalsyncQueue owns the job engine: job envelopes, claiming with leases and fencing tokens,
// retry/backoff, deferrals, dead letters, the worker loop (a Service) and queue administration,
// all as atomic Lua scripts over Redis (CalsyncRedis). It must not depend on the sync rules,
// the providers, PostgreSQL, HTTP or configuration reading: handlers plug in via `JobHandler`.
//
// Redis key layout (every key starts with the configured prefix P; on Redis Cluster use `{calsync}`
// so every key hashes to one slot, the scripts compute task keys from it):
//   P:queue:<type>      LIST  producers LPUSH job JSON; the worker RPOPs the oldest (contract §2)
//   P:fence             STRING INCR counter of fencing tokens. A fence (one per claim) is "<TIME ms>-<counter>-
//                             <nonce>", the nonce drawn by the claiming worker per call, so fences stay unique
//                             when Redis loses recent writes; a fresh job's task id (tid) is its first fence
//   P:task:<tid>        HASH  raw, type, attempts, lease_expiries, deferrals, first_claimed_at,
//                             first_failed_at, last_error, last_http_status, fence (0 = not held), worker,
//                             redacted (the raw text with secrets redacted, only when it differs),
//                             isolation (suspect | isolated: its lease expired once | twice beside other jobs)
//   P:leases            ZSET  tid -> lease deadline (ms, Redis TIME); expired leases are reaped by claims
//   P:scheduled:<type>  ZSET  tid -> due time (ms): retries, deferrals, hand-backs, reaped leases
//   P:isolated:<type>   ZSET  tid -> due time (ms): isolated tasks, claimed one at a time by a worker holding
//                             nothing; only their lease expiries count towards maxLeaseExpiries
//   P:dead              HASH  record id -> dead record JSON (record id = job id, else invalid-<n>)
//   P:dead:index        ZSET  record id -> last failure (ms), for listing and trimming
//   P:dead:seq          STRING INCR source of invalid-<n>
//   P:dead:trimmed      STRING how many records trimming removed (by count or age)
// Times are Redis `TIME` in milliseconds, so clocks of worker hosts never matter.

/// How the queue behaves: key prefix, leases, retries, dead-letter limits.
public struct QueueConfiguration: Sendable {
    /// Prefix of every Redis key; default `calsync`.
    public var prefix: String
    /// How long a claim lasts without renewal; default 30 s.
    public var leaseDuration: Duration
    /// Lease expiries while the job ran alone (isolated, after two expiries beside other jobs) after which it
    /// goes dead with `lease_expired`; default 3.
    public var maxLeaseExpiries: Int
    /// Backoff for retryable errors; default exponential full jitter, base 2 s, cap 900 s, 8 attempts.
    public var retry: RetryPolicy
    /// Age since the first claim after which a failing job goes dead (`attempts_exhausted`); default 24 h.
    public var maxJobAge: Duration
    /// Deferrals after which a job goes dead with `deferrals_exhausted`; default 1000.
    public var maxDeferrals: Int
    /// Dead records kept at most (oldest trimmed first); default 10,000.
    public var deadLetterMaxCount: Int
    /// Dead records older than this are trimmed; default 180 days.
    public var deadLetterMaxAge: Duration
    /// Jobs longer than this many bytes are dead-lettered (`invalid_job`, first 4 KiB kept) by the claim,
    /// before any worker parses them; default 1 MiB (contract §2).
    public var maxJobBytes: Int

    /// Creates a configuration with the documented defaults.
    public init(prefix: String = "calsync") {
        self.prefix = prefix
        self.leaseDuration = .seconds(30)
        self.maxLeaseExpiries = 3
        self.retry = .exponentialJitter(base: .seconds(2), cap: .seconds(900), maxAttempts: 8)
        self.maxJobAge = .seconds(24 * 3600)
        self.maxDeferrals = 1000
        self.deadLetterMaxCount = 10_000
        self.deadLetterMaxAge = .seconds(180 * 24 * 3600)
        self.maxJobBytes = 1 << 20
    }
}
