// CalsyncJobs owns the job model every other target shares: `Job`, `JobContext`, the `JobHandler`
// protocol, `JobError` and `JobOutcome`, the locks a job holds (`JobLock`, `JobHeldLocks`), the run's
// deadline and lease (`JobRun`), the retry policy, the `CoalescingBatcher`, safe one-line text and secret
// redaction, and the one RFC 3339 parser and formatter. It is pure Swift: it must not depend on Redis,
// NIO, PostgreSQL, HTTP or any other calsync target (only Foundation, Synchronization and Logging), so the
// sync rules and the store can use it without a driver, and a queue driver (CalsyncQueue) builds on it.
