import CalsyncJobs
import Foundation

/// How one worker process runs jobs.
package struct WorkerConfiguration: Sendable {
    /// Jobs in flight in this process; default 64.
    package var concurrency: Int
    /// Most jobs in flight per type (e.g. `import_window: 16`), so bulk imports never starve exports; default none.
    package var perTypeLimits: [String: Int]
    /// How long in-flight jobs may finish after a graceful shutdown begins; default 25 s.
    package var shutdownGrace: Duration
    /// Longest sleep between claims when the queues are empty; default 20 ms. After work the worker
    /// polls again at once, then waits 1 ms, doubling on each empty claim up to this, so an idle worker
    /// costs Redis about 50 claims a second while a busy one never waits.
    package var idlePollInterval: Duration
    /// This worker's id in task hashes and logs; default `host:pid:random`.
    package var workerID: String
    /// How often the worker updates its queue gauges (known types only: no keyspace scan); default 5 s.
    package var maintenanceInterval: Duration
    /// How often one worker of the fleet (a Redis lock decides which) scans the keyspace for ready lists and
    /// scheduled sets of job types no worker knows, and dead-letters their jobs; default 5 minutes.
    package var unknownTypeSweepInterval: Duration
    /// How long one run of a job may take; after it the job is cancelled (no further provider call) and
    /// retried. Default 300 s. A provider request started near the deadline gets a shorter timeout.
    package var jobTimeout: Duration

    /// Creates a configuration with the documented defaults.
    package init() {
        self.concurrency = 64
        self.perTypeLimits = [:]
        self.shutdownGrace = .seconds(25)
        self.idlePollInterval = .milliseconds(20)
        let host = ProcessInfo.processInfo.hostName
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        self.workerID = "\(host):\(ProcessInfo.processInfo.processIdentifier):\(random)"
        self.maintenanceInterval = .seconds(5)
        self.unknownTypeSweepInterval = .seconds(300)
        self.jobTimeout = .seconds(300)
    }
}
