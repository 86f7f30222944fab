import CalsyncICal
import Foundation
import Synchronization
import Testing

/// Review finding 14: libical work waits on calsync's libical thread, never on a cooperative thread.
@Suite struct OffloadTests {
    @Test func theWorkRunsOnTheLibicalThreadNotTheCallers() async throws {
        #expect(!ICalendar.isOnLibicalThread)
        let inside = try await ICalendar.offload { () throws(ICalError) -> Bool in ICalendar.isOnLibicalThread }
        #expect(inside)
    }

    @Test(.disabled(if: ProcessInfo.processInfo.environment["CALSYNC_TIMING_TESTS"] == nil, "timing: runs in phase 5 of scripts/run-tests.sh (CALSYNC_TIMING_TESTS=1), which has the machine to itself"))
    func waitingForLibicalLeavesTheCooperativePoolFree() async throws {
        // Far more waiting calls than the pool has threads; each holds the libical thread 10 ms (0.64 s in all).
        let calls = 64
        let finished = OffloadCounter()
        let beats = OffloadCounter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<calls {
                group.addTask {
                    _ = try await ICalendar.offload { () throws(ICalError) -> Int in
                        Thread.sleep(forTimeInterval: 0.01)
                        return 1
                    }
                    finished.add()
                }
            }
            // A heartbeat (as a lease renewal would be) keeps running while they wait.
            group.addTask {
                while finished.value < calls {
                    try await Task.sleep(for: .milliseconds(5))
                    if finished.value < calls { beats.add() }
                }
            }
            try await group.waitForAll()
        }
        #expect(beats.value >= 10)
    }

    @Test func anErrorComesBackTyped() async {
        await #expect(throws: ICalError.self) {
            _ = try await ICalendar.offload { () throws(ICalError) -> ICalObjectInfo in try ICalendar.inspect("not a calendar") }
        }
    }
}

/// A count shared by tasks.
final class OffloadCounter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add() { count.withLock { $0 += 1 } }
}
