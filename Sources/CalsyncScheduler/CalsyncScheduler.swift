// CalsyncScheduler owns `calsync scheduler`'s loop: while this replica holds the leader lease, each tick
// enqueues due imports, daily full resyncs, token refreshes and replays of parked changes, in batches.
// It reads due connections through the store (CalsyncStore) and writes jobs with its own Redis scripts
// (CalsyncRedis, the lease from CalsyncSyncRedis). It must not depend on the provider clients, HTTP,
// the worker or configuration reading: CalsyncApp builds its `Scheduler.Configuration` and runs it.
