// CalsyncSyncRedis owns the Redis adapters of the sync rules' protocols: the rate limiter
// (`RedisRateLimiter`), the per-appointment locks (`RedisSyncLocks`), the lifecycle event stream
// (`RedisSyncEvents`), the follow-up job enqueuer on the queue (`QueueJobEnqueuer`) and the scheduler's
// leader lease (`LeaderLease`). It sits beside CalsyncQueue and must not depend on PostgreSQL, HTTP,
// the provider clients or configuration reading; the rules (CalsyncSync) never import it.
