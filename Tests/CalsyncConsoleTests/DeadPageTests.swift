import CalsyncQueue
import CalsyncRedis
import Foundation
import Testing

/// Cursor paging of the dead-letter index, per-type dead counts and completion counts, over a real Redis.
@Suite("Dead paging and counters")
struct DeadPageTests {
    @Test("pages by cursor visit every record once, newest first, also across equal failure times")
    func cursorPaging() async throws {
        try await ConsoleRig.with { rig in
            let base = Int64(1_700_000_000_000)
            // 1,250 records, many sharing a millisecond (ties are ordered by id inside Redis).
            var commands: [[String]] = []
            for i in 0..<1250 {
                let type = i % 5 == 0 ? "refresh_token" : "import_window"
                let json = #"{"id":"d\#(i)","type":"\#(type)","reason":"attempts_exhausted","error":"e\#(i)","attempts":1,"first_failed_at":\#(base),"last_failed_at":\#(base + Int64(i / 7)),"raw":"{}"}"#
                commands.append(["HSET", "\(rig.prefix):dead", "d\(i)", json])
                commands.append(["ZADD", "\(rig.prefix):dead:index", String(base + Int64(i / 7)), "d\(i)"])
            }
            _ = try await rig.redis.pipeline(commands)
            var seen: [String] = []
            var cursor: DeadCursor? = nil
            var pages = 0
            repeat {
                let page = try await rig.queue.deadPage(filter: DeadFilter(), after: cursor, limit: 50)
                #expect(page.records.count <= 50)
                seen += page.records.map(\.id)
                cursor = page.next
                if let next = cursor { #expect(DeadCursor(next.description) == next) }
                pages += 1
            } while cursor != nil && pages < 100
            #expect(seen.count == 1250)
            #expect(Set(seen).count == 1250)
            let times = seen.map { Int($0.dropFirst())! / 7 }
            #expect(times == times.sorted(by: >))

            var filtered: [String] = []
            cursor = nil
            repeat {
                let page = try await rig.queue.deadPage(filter: DeadFilter(type: "refresh_token"), after: cursor, limit: 40)
                filtered += page.records.map(\.id)
                cursor = page.next
            } while cursor != nil
            #expect(filtered.count == 250)
            #expect(try await rig.queue.deadMatchingIDs(filter: DeadFilter(type: "refresh_token", text: "E5")).sorted()
                == (0..<1250).filter { $0 % 5 == 0 && "e\($0)".contains("e5") }.map { "d\($0)" }.sorted())
        }
    }

    @Test("a rare filter stops at the scan budget with a cursor to go on")
    func scanBudget() async throws {
        try await ConsoleRig.with { rig in
            let base = Int64(1_700_000_000_000)
            var commands: [[String]] = []
            for i in 0..<300 {
                let json = #"{"id":"d\#(i)","type":"import_window","reason":"r","attempts":1,"first_failed_at":\#(base),"last_failed_at":\#(base + Int64(i)),"raw":"{}"}"#
                commands.append(["HSET", "\(rig.prefix):dead", "d\(i)", json])
                commands.append(["ZADD", "\(rig.prefix):dead:index", String(base + Int64(i)), "d\(i)"])
            }
            _ = try await rig.redis.pipeline(commands)
            let page = try await rig.queue.deadPage(filter: DeadFilter(text: "d0"), after: nil, limit: 10, scanBudget: 100)
            #expect(page.budgetReached)
            #expect(page.records.isEmpty)
            let rest = try await rig.queue.deadPage(filter: DeadFilter(text: "d0"), after: page.next, limit: 10, scanBudget: 1000)
            #expect(rest.records.map(\.id) == ["d0"])
        }
    }

    @Test("the engine counts dead records per type as they are written, retried and purged; acks count completions")
    func counters() async throws {
        try await ConsoleRig.with { rig in
            var configuration = QueueConfiguration(prefix: rig.prefix)
            configuration.maxJobBytes = 4096
            let queue = JobQueue(redis: rig.redis, configuration: configuration, logger: rig.logger)
            let big = String(repeating: "x", count: 5000)
            for i in 0..<3 {
                try await queue.enqueue(raw: Array(#"{"id":"big-\#(i)","type":"import_window","payload":{"n":"\#(big)"}}"#.utf8), type: "import_window")
            }
            _ = try await queue.claim(workerID: "t", slots: [("import_window", 10)], total: 10)
            #expect(try await queue.deadCountsByType() == ["import_window": 3])
            // Records the engine wrote (Lua cjson) pass the byte prefilter of a type and reason filter.
            let matched = try await queue.deadPage(filter: DeadFilter(type: "import_window", reason: "invalid_job"), after: nil, limit: 10)
            #expect(matched.records.count == 3)
            #expect(try await queue.deadPage(filter: DeadFilter(type: "import_windows"), after: nil, limit: 10).records.isEmpty)
            #expect(try await queue.deadPurge(id: "big-0"))
            #expect(try await queue.deadCountsByType() == ["import_window": 2])
            #expect(try await queue.deadPurgeAll(olderThan: nil) == 2)
            #expect(try await queue.deadCountsByType().isEmpty)

            _ = try await queue.enqueue(type: "refresh_token", payload: #"{"member_id":"m1"}"#)
            _ = try await queue.enqueue(type: "refresh_token", payload: #"{"member_id":"m2"}"#)
            let claimed = try await queue.claim(workerID: "t", slots: [("refresh_token", 10)], total: 10).tasks
            #expect(claimed.count == 2)
            #expect(try await queue.ack(claimed.map { ($0.tid, $0.fence) }) == [true, true])
            #expect(try await queue.completions(minutes: 5) == ["refresh_token": 2])
        }
    }
}
