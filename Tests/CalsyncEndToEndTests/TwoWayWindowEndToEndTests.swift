import CalsyncSandbox
import Foundation
import Testing

/// Review finding 2, end to end: Graph's delta reports `@removed` for an event that left the window fixed at the
/// full read; calsync reads its own event again by id instead of reporting it deleted.
@Suite("Two-way end to end: an export moved out of the delta window")
struct TwoWayWindowEndToEndTests {
    static func day(_ days: Double, hour: Double = 10) -> String {
        let start = Calendar(identifier: .gregorian).startOfDay(for: Date()).addingTimeInterval(days * 86_400 + hour * 3600)
        return start.formatted(.iso8601)
    }

    @Test("the web tier moves an appointment beyond the window: no change reported; a member's delete still is")
    func movedOutOfTheWindowIsNotDeleted() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("m-1")
            try world.startWorker()
            let account = try await world.connect("m-1", provider: .microsoft)
            try await world.export("m-1", "a-1", revision: 1, start: Self.day(85), end: Self.day(85, hour: 11))
            try await world.idle()
            try await world.importNow("m-1", full: true)
            // Day 95 lies outside the window (90 days) the delta link was made for.
            try await world.export("m-1", "a-1", revision: 2, start: Self.day(95), end: Self.day(95, hour: 11))
            try await world.idle()
            try await world.importNow("m-1")
            try await world.importNow("m-1")
            #expect(try await world.externalChanges("m-1").isEmpty, "\(world.allLogs)")

            let event = try #require(world.providerEvents(account).first)
            world.sandbox.deleteEvent(.microsoft, email: account.email, calendarID: account.primaryCalendarID, eventID: event.id)
            try await world.importNow("m-1")
            let changes = try await world.externalChanges("m-1")
            #expect(changes.map(\.change) == ["deleted"], "\(world.allLogs)")
        }
    }
}
