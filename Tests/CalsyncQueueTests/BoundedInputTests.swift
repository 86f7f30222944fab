import CalsyncRedis
import Foundation
import Testing

@testable import CalsyncQueue

@Suite("Bounded input")
struct BoundedInputTests {
    @Test func aJobOverTheLimitIsDeadLetteredByTheClaimWithItsFirst4KiB() async throws {
        try await withQueue("oversized", configure: { $0.maxJobBytes = 10_000 }) { queue, _ in
            // Over the limit, with a secret inside its first 4 KiB.
            let big = #"{"id":"big-1","type":"t","payload":{"password":"hunter2","blob":"\#(String(repeating: "x", count: 20_000))"}}"#
            try await queue.enqueue(raw: Array(big.utf8), type: "t")
            // Over the limit, with a two-byte character across the 4 KiB boundary.
            let start = #"{"id":"big-2","type":"t","payload":{"blob":""#
            let split = start + String(repeating: "a", count: 4095 - start.utf8.count) + String(repeating: "é", count: 6_000) + #""}}"#
            try await queue.enqueue(raw: Array(split.utf8), type: "t")
            // Exactly at the limit: a job like any other.
            let shell = #"{"id":"edge","type":"t","payload":{"blob":""}}"#
            let edge = #"{"id":"edge","type":"t","payload":{"blob":"\#(String(repeating: "y", count: 10_000 - shell.utf8.count))"}}"#
            #expect(edge.utf8.count == 10_000)
            try await queue.enqueue(raw: Array(edge.utf8), type: "t")
            let next = try await queue.enqueue(type: "t", payload: "{}")

            // One claim for one slot: the oversized jobs take no slot, the claim goes on to the next job.
            let (_, tasks) = try await queue.claim(workerID: "w", slots: [("t", 1)], total: 1)
            let claimedTheEdgeJob = tasks.count == 1 && tasks[0].raw == Array(edge.utf8)
            #expect(claimedTheEdgeJob, "the claim should skip the oversized jobs and give out the one at the limit")
            let (_, more) = try await queue.claim(workerID: "w", slots: [("t", 5)], total: 5)
            let last = try #require(more.first)
            guard case .valid(let id, _, _, _) = JobEnvelope.check(last.raw, listType: "t") else {
                Issue.record("the job after the oversized ones is not valid")
                return
            }
            #expect(id == next)

            let record = try #require(try await queue.deadShow(id: "big-1"))
            #expect(record.reason == "invalid_job")
            #expect(record.type == "t")
            #expect(record.attempts == 1)
            #expect(record.error?.contains("CALSYNC_MAX_JOB_BYTES") == true)
            let head = try #require(String(bytes: big.utf8.prefix(4096), encoding: .utf8))
            #expect(record.raw == head.replacingOccurrences(of: #""hunter2""#, with: #""[redacted]""#))
            #expect(!record.raw.contains("hunter2"))

            // Cut back to the last whole character: the record stays valid UTF-8.
            let second = try #require(try await queue.deadShow(id: "big-2"))
            #expect(second.raw == String(bytes: split.utf8.prefix(4095), encoding: .utf8))
            #expect(try await queue.stats(knownTypes: ["t"]).dead == 2)
        }
    }
}
