import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import Logging
import ServiceLifecycle
import Testing

/// The worker's heartbeat: live while the worker runs, gone once it stopped.
@Suite("Worker heartbeat")
struct WorkerHeartbeatTests {
    @Test("a running worker is listed with its concurrency and version; a graceful shutdown removes it at once")
    func beatAndLeave() async throws {
        try await ConsoleRig.with { rig in
            var configuration = WorkerConfiguration()
            configuration.concurrency = 7
            configuration.workerID = "host:1:test"
            let worker = JobWorker(queue: rig.queue, handlers: [], knownTypes: [], configuration: configuration, logger: rig.logger)
            let heartbeat = WorkerHeartbeat(
                worker: worker, redis: rig.redis, prefix: rig.prefix, workerID: configuration.workerID, concurrency: 7,
                interval: .seconds(60), logger: rig.logger)
            let group = ServiceGroup(services: [heartbeat], gracefulShutdownSignals: [], logger: rig.logger)
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                var beats: [WorkerBeat] = []
                for _ in 0..<100 where beats.isEmpty {
                    beats = try await rig.queue.liveWorkers()
                    if beats.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
                }
                #expect(beats.map(\.id) == ["host:1:test"])
                #expect(beats.first?.concurrency == 7 && beats.first?.version == CalsyncVersion.current && beats.first?.inFlight == 0)
                let ttl = try await rig.redis.send(["PTTL", WorkerHeartbeat.key(prefix: rig.prefix, id: "host:1:test")]).int ?? 0
                #expect(ttl > 120_000 && ttl <= 180_000)
                let stopping = ContinuousClock.now
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                // Well under the 60 s beat interval: the shutdown does not wait for the sleep to end.
                #expect(ContinuousClock.now - stopping < .seconds(30))
            }
            #expect(try await rig.queue.liveWorkers().isEmpty)
            #expect(try await rig.redis.send(["ZCARD", "\(rig.prefix):workers"]).int == 0)
        }
    }
}
