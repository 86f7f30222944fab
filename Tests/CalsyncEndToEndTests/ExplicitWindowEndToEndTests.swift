import CalsyncSandbox
import Foundation
import PostgresNIO
import Testing

/// Contract §4 through the real worker and the sandbox: an `import_window` over an explicit window
/// changes only the busy blocks that overlap it and leaves the rolling window's cursor as it was.
@Suite("Explicit import windows end to end")
struct ExplicitWindowEndToEndTests {
    static let providers: [SandboxProvider] = [.google, .microsoft]

    /// The stored cursors of a member's connections.
    static func cursors(_ world: SyncWorld) async throws -> [String] {
        try await world.db.query("SELECT cursor FROM busy_sync_cursors ORDER BY calendar_id", logger: e2eLogger)
            .decode(String.self).collect()
    }

    @Test("an import over days 15–25 keeps the day-2 block and the rolling cursor; a gone event inside it is removed", arguments: providers)
    func explicitWindow(provider: SandboxProvider) async throws {
        try await SyncWorld.withConnectedMember(provider) { world, account in
            let now = Date()
            func insert(day: Double) -> String {
                world.sandbox.insertEvent(
                    provider, email: account.email, calendarID: account.primaryCalendarID,
                    SandboxEvent(summary: "day \(day)", start: now.addingTimeInterval(day * 86_400),
                                 end: now.addingTimeInterval(day * 86_400 + 3600)))
            }
            _ = insert(day: 2)
            let day20 = insert(day: 20)
            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.idle()
            #expect(try await world.visibleBusy("m-1").count == 2)
            let rolling = try await Self.cursors(world)
            #expect(!rolling.isEmpty)

            world.sandbox.deleteEvent(provider, email: account.email, calendarID: account.primaryCalendarID, eventID: day20)
            let start = ISO8601DateFormatter().string(from: now.addingTimeInterval(15 * 86_400))
            let end = ISO8601DateFormatter().string(from: now.addingTimeInterval(25 * 86_400))
            try await world.enqueue("import_window", #"{"member_id":"m-1","window_start":"\#(start)","window_end":"\#(end)"}"#)
            try await world.idle()
            let busy = try await world.visibleBusy("m-1")
            #expect(busy.map(\.start) == [now.addingTimeInterval(2 * 86_400).roundedToSeconds], "day 2 stays, day 20 is gone")
            #expect(try await Self.cursors(world) == rolling, "the rolling cursor stays as it was")

            try await world.enqueue("import_window", #"{"member_id":"m-1"}"#)
            try await world.idle()
            #expect(try await world.visibleBusy("m-1").count == 1)
        }
    }
}

extension AsyncSequence {
    /// Every element, in order.
    fileprivate func collect() async throws -> [Element] {
        var all: [Element] = []
        for try await element in self { all.append(element) }
        return all
    }
}
