import CalsyncJobs
import Metrics

/// The worker's metrics (dotted names, labels `type`, `outcome`, `reason`, `state` only).
struct WorkerMetrics: Sendable {
    private let processedCompleted: [String: Counter]
    private let durations: [String: Timer]
    private let latencies: [String: Timer]

    init(types: Set<String>) {
        var completed: [String: Counter] = [:]
        var durations: [String: Timer] = [:]
        var latencies: [String: Timer] = [:]
        for type in types {
            completed[type] = Counter(label: "calsync.jobs.processed", dimensions: [("type", type), ("outcome", "completed")])
            durations[type] = Timer(label: "calsync.job.duration", dimensions: [("type", type)])
            latencies[type] = Timer(label: "calsync.job.queue_latency", dimensions: [("type", type)])
        }
        self.processedCompleted = completed
        self.durations = durations
        self.latencies = latencies
    }

    func completed(_ type: String) {
        (processedCompleted[type] ?? Counter(label: "calsync.jobs.processed", dimensions: [("type", type), ("outcome", "completed")])).increment()
    }

    func skipped(_ type: String) {
        Counter(label: "calsync.jobs.processed", dimensions: [("type", type), ("outcome", "skipped")]).increment()
    }

    func failed(_ type: String, kind: String) {
        Counter(label: "calsync.jobs.failed", dimensions: [("type", type), ("kind", kind)]).increment()
    }

    func retried(_ type: String) {
        Counter(label: "calsync.jobs.retried", dimensions: [("type", type)]).increment()
    }

    func deferred(_ type: String) {
        Counter(label: "calsync.jobs.deferred", dimensions: [("type", type)]).increment()
    }

    func dead(_ type: String, reason: String) {
        Counter(label: "calsync.jobs.dead", dimensions: [("type", type), ("reason", reason)]).increment()
    }

    func handedBack(_ type: String) {
        Counter(label: "calsync.jobs.handed_back", dimensions: [("type", type)]).increment()
    }

    func duration(_ type: String, nanoseconds: Int64) {
        (durations[type] ?? Timer(label: "calsync.job.duration", dimensions: [("type", type)])).recordNanoseconds(nanoseconds)
    }

    func queueLatency(_ type: String, milliseconds: Int64) {
        (latencies[type] ?? Timer(label: "calsync.job.queue_latency", dimensions: [("type", type)]))
            .recordMilliseconds(max(0, milliseconds))
    }

    func depth(_ stats: QueueStats) {
        for (type, count) in stats.ready {
            Gauge(label: "calsync.queue.depth", dimensions: [("type", type), ("state", "ready")]).record(count)
        }
        for (type, count) in stats.scheduled {
            Gauge(label: "calsync.queue.depth", dimensions: [("type", type), ("state", "scheduled")]).record(count)
        }
        Gauge(label: "calsync.queue.oldest_age_seconds").record(stats.oldestJobAgeSeconds ?? 0)
    }
}
