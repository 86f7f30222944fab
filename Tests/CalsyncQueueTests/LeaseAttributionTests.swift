import CalsyncJobs
import CalsyncRedis
import Foundation
import Synchronization
import Testing

@testable import CalsyncQueue

/// The job id of a claimed task.
func jobID(_ task: ClaimedTask) -> String? {
    if case .valid(let id, _, _, _) = JobEnvelope.check(task.raw, listType: task.type) { return id }
    return nil
}

/// Waits (on Redis's clock) until every lease held now has expired: what a crashed worker leaves behind.
func waitForLeasesToExpire(_ queue: JobQueue, _ redis: RedisClient) async throws {
    let leases = "\(queue.configuration.prefix):leases"
    guard let last = try await redis.send(["ZRANGE", leases, "-1", "-1", "WITHSCORES"]).array, last.count == 2,
        let deadline = last[1].string.flatMap({ Int64($0) })
    else { return }
    try await waitUntil("the crashed worker's leases expire") { try await redisNowMs(redis) > deadline }
}


@Suite("Lease expiries are charged to the job that crashes its worker")
struct LeaseAttributionTests {
    @Test func aPoisonJobGoesDeadAloneAndTheJobsThatCrashedWithItComplete() async throws {
        try await withQueue("poison", configure: { $0.leaseDuration = .milliseconds(100); $0.maxLeaseExpiries = 2 }) { queue, redis in
            let poison = try await queue.enqueue(type: "t", payload: #"{"poison":true}"#)
            var good: [String] = []
            for n in 0..<5 { good.append(try await queue.enqueue(type: "t", payload: #"{"n":\#(n)}"#)) }
            var completed: [String] = []
            var crashes = 0
            // Each round is a fresh worker process with nothing in flight: it claims up to 8 jobs and runs them;
            // holding the poison job, it dies: nothing acked, nothing renewed, its leases expire.
            for round in 0..<30 {
                let (_, tasks) = try await queue.claim(workerID: "worker-\(round)", slots: [("t", 8)], total: 8)
                if tasks.isEmpty {
                    let stats = try await queue.stats(knownTypes: ["t"])
                    if stats.ready["t"] == 0, stats.scheduled["t"] == 0, stats.inFlight == 0 { break }
                    try await waitForLeasesToExpire(queue, redis)
                    continue
                }
                let ids = tasks.compactMap(jobID)
                if ids.contains(poison) {
                    crashes += 1
                    try await waitForLeasesToExpire(queue, redis)
                } else {
                    #expect(try await queue.ack(tasks.map { ($0.tid, $0.fence) }) == tasks.map { _ in true })
                    completed += ids
                }
            }
            #expect(completed.sorted() == good.sorted())
            let record = try #require(try await queue.deadShow(id: poison))
            #expect(record.reason == "lease_expired")
            let stats = try await queue.stats(knownTypes: ["t"])
            #expect(stats.dead == 1)
            #expect(stats.inFlight == 0)
            // Two shared crashes make it suspect, then isolated; then two crashes while it ran alone count.
            #expect(crashes == 4)
        }
    }

    @Test func anIsolatedTaskRunsAloneOnAWorkerThatHoldsNothing() async throws {
        // A lease long enough that the claims after the crashes never see it expire, even on a loaded machine.
        try await withQueue("isolated", configure: { $0.leaseDuration = .seconds(2) }) { queue, redis in
            let suspect = try await queue.enqueue(type: "t", payload: #"{"n":0}"#)
            // Two workers die while holding it (with other jobs, as far as anyone can tell).
            for crash in 0..<2 {
                let (_, tasks) = try await queue.claim(workerID: "crash-\(crash)", slots: [("t", 8)], total: 8, held: 0)
                #expect(tasks.compactMap(jobID) == [suspect])
                #expect(tasks.allSatisfy { !$0.runsAlone })
                try await waitForLeasesToExpire(queue, redis)
            }
            var others: [String] = []
            for n in 1...3 { others.append(try await queue.enqueue(type: "t", payload: #"{"n":\#(n)}"#)) }

            // A worker that holds jobs claims nothing while the isolated task waits, though jobs are ready.
            let (_, busy) = try await queue.claim(workerID: "busy", slots: [("t", 6)], total: 6, held: 2)
            #expect(busy.isEmpty)
            // `calsync queues` counts it as scheduled.
            #expect(try await queue.stats(knownTypes: ["t"]).scheduled["t"] == 1)
            // A worker that holds nothing takes it, alone: nothing else in the same call.
            let (_, idle) = try await queue.claim(workerID: "idle", slots: [("t", 6)], total: 6, held: 0)
            #expect(idle.compactMap(jobID) == [suspect])
            #expect(idle.first?.runsAlone == true)
            let alone = try #require(idle.first)
            // Nothing isolated waits any more: normal claims resume.
            let (_, normal) = try await queue.claim(workerID: "busy", slots: [("t", 6)], total: 6, held: 2)
            #expect(normal.compactMap(jobID) == others)
            #expect(normal.allSatisfy { !$0.runsAlone })
            #expect(try await queue.ack(normal.map { ($0.tid, $0.fence) }) == [true, true, true])

            // A retry keeps it isolated: it passes the scheduled set and the next claim puts it back aside.
            #expect(try await queue.fail(.retry, tid: alone.tid, fence: alone.fence, error: "x") == .scheduled)
            let late = try await queue.enqueue(type: "t", payload: #"{"n":4}"#)
            let (_, mixed) = try await queue.claim(workerID: "busy", slots: [("t", 6)], total: 6, held: 1)
            #expect(mixed.compactMap(jobID) == [late])
            #expect(try await queue.ack(mixed.map { ($0.tid, $0.fence) }) == [true])
            let (_, again) = try await queue.claim(workerID: "idle", slots: [("t", 6)], total: 6, held: 0)
            #expect(again.compactMap(jobID) == [suspect])
            #expect(again.first?.runsAlone == true)
            #expect(again.first?.attempts == 1)
        }
    }

    @Test func theWorkerRunsAnIsolatedTaskAloneThenClaimsAsUsual() async throws {
        try await withQueue("walone", configure: { $0.leaseDuration = .milliseconds(300) }) { queue, redis in
            let isolated = try await queue.enqueue(type: "t", payload: #"{"n":0}"#)
            for crash in 0..<2 {
                _ = try await queue.claim(workerID: "crash-\(crash)", slots: [("t", 8)], total: 8)
                try await waitForLeasesToExpire(queue, redis)
            }
            for n in 1...6 { _ = try await queue.enqueue(type: "t", payload: #"{"n":\#(n)}"#) }
            let events = Mutex<(log: [String], running: Int, maxRunning: Int)>(([], 0, 0))
            let handler = ClosureHandler(jobType: "t") { job, _ in
                events.withLock { state in
                    state.log.append("start:" + job.id)
                    state.running += 1
                    state.maxRunning = max(state.maxRunning, state.running)
                }
                try await Task.sleep(for: .milliseconds(job.id == isolated ? 150 : 30))
                events.withLock { state in
                    state.log.append("end:" + job.id)
                    state.running -= 1
                }
                return .completed
            }
            let worker = JobWorker(
                queue: queue, handlers: [handler], knownTypes: [], configuration: testWorkerConfiguration(concurrency: 8), logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("7 jobs done") { events.withLock { $0.log.filter { $0.hasPrefix("end:") }.count } == 7 }
            }
            let (log, maxRunning) = events.withLock { ($0.log, $0.maxRunning) }
            let start = try #require(log.firstIndex(of: "start:" + isolated))
            #expect(log.firstIndex(of: "end:" + isolated) == start + 1, "another job ran beside the isolated one: \(log)")
            #expect(maxRunning > 1, "the worker did not go back to claiming several jobs at once")
        }
    }
}
