import Synchronization
import CalsyncSync
import CalsyncSyncTesting
import Foundation
import Testing

/// Contract §2 `import_window`, and §4: busy blocks of one member only, explicit windows, a disconnect
/// that wins over a running import. (Which events are busy — free, cancelled, declined, our own exports —
/// is decided by each provider client: CalsyncProviderTests.)
@Suite("Imports, in process")
struct ImportRuleTests {
    static func event(_ id: String, day: Double, calendar: String, now: Date = Date()) -> BusyEvent {
        let start = now.addingTimeInterval(day * 86_400)
        return BusyEvent(externalEventID: id, calendarID: calendar, start: start, end: start.addingTimeInterval(3600), isAllDay: false)
    }

    @Test("the member's busy blocks become the busy events of its calendars; they never block a teammate")
    func blocksBelongToOneMember() async throws {
        let rig = SyncTestRig()
        rig.store.addMember("m-2", organizationID: "org-1")
        try await rig.connect(member: "m-1", calendarID: "cal-1")
        try await rig.connect(member: "m-2", calendarID: "cal-2")
        rig.provider.setBusy([Self.event("one", day: 1, calendar: "cal-1")], in: "cal-1")
        rig.provider.setBusy([Self.event("two", day: 2, calendar: "cal-2")], in: "cal-2")
        #expect(try await rig.run(.importWindow(member: "m-1")) == "completed")
        #expect(rig.store.blocks(memberID: "m-1").keys.sorted() == ["one"])
        #expect(rig.store.blocks(memberID: "m-2").isEmpty)
        #expect(rig.provider.calls(.readBusy).map(\.calendarID) == ["cal-1"])
        // The import told the store it started (the scheduler's "already queued" mark of that connection goes).
        let first = try #require(rig.store.state.withLock { $0.connections.first { $0.record.memberID == "m-1" } })
        #expect(rig.store.state.withLock(\.importsStarted) == [first.record.id])
        #expect(try await rig.run(.importWindow(member: "m-2")) == "completed")
        #expect(rig.store.blocks(memberID: "m-1").keys.sorted() == ["one"])
        #expect(rig.store.blocks(memberID: "m-2").keys.sorted() == ["two"])
    }

    @Test("incremental import: a moved and a removed event follow; an expired cursor rebuilds from a full read")
    func incremental() async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect()
        let calendar = rig.provider.primaryCalendarID
        rig.provider.setBusy([Self.event("a", day: 1, calendar: calendar), Self.event("b", day: 2, calendar: calendar)])
        #expect(try await rig.run(.importWindow()) == "completed")
        let moved = Self.event("a", day: 3, calendar: calendar)
        rig.provider.state.withLock {
            $0.changes[calendar] = BusyChanges(upserts: [moved], removedEventIDs: ["b"], cursor: nil)
        }
        #expect(try await rig.run(.importWindow()) == "completed")
        #expect(rig.store.blocks(memberID: "m-1") == ["a": moved])
        #expect(try await rig.store.cursor(connectionID: connection.id, calendarID: calendar)?.value == "delta-1")

        rig.provider.script(.readBusyChanges, .fail(ProviderError(code: "cursor_expired", kind: .fullResyncRequired, httpStatus: 410, message: "gone")))
        rig.provider.setBusy([Self.event("c", day: 4, calendar: calendar)])
        #expect(try await rig.run(.importWindow()) == "completed")
        #expect(rig.store.blocks(memberID: "m-1").keys.sorted() == ["c"])
        #expect(try await rig.store.cursor(connectionID: connection.id, calendarID: calendar)?.value == "full-2")
    }

    @Test("an import over days 15–25 changes only blocks overlapping it and keeps the rolling cursor")
    func explicitWindow() async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect()
        let calendar = rig.provider.primaryCalendarID
        let now = Date()
        rig.provider.setBusy([
            Self.event("day-2", day: 2, calendar: calendar, now: now), Self.event("day-16", day: 16, calendar: calendar, now: now),
            Self.event("day-20", day: 20, calendar: calendar, now: now),
        ])
        #expect(try await rig.run(.importWindow()) == "completed")
        // day-2 is gone at the provider too, but outside the window; day-20 is gone inside it.
        rig.provider.setBusy([Self.event("day-16", day: 16, calendar: calendar, now: now)])
        let window = DateInterval(start: now.addingTimeInterval(15 * 86_400), end: now.addingTimeInterval(25 * 86_400))
        #expect(try await rig.run(.importWindow(window: window)) == "completed")
        #expect(rig.store.blocks(memberID: "m-1").keys.sorted() == ["day-16", "day-2"])
        #expect(try await rig.store.cursor(connectionID: connection.id, calendarID: calendar)?.value == "full-1")
        // Only the rolling import told the store it started: the explicit window leaves a queued scheduled import queued.
        #expect(rig.store.state.withLock(\.importsStarted) == [connection.id])
    }

    @Test("a disconnect committed while an import reads writes no block, cursor or stamp for it")
    func disconnectWinsOverARunningImport() async throws {
        let rig = SyncTestRig()
        let connection = try await rig.connect()
        rig.provider.setBusy([Self.event("busy", day: 1, calendar: rig.provider.primaryCalendarID)])
        let reached = Signal()
        let resume = Signal()
        rig.provider.script(.readBusy, .pause(reached: reached, resume: resume))
        async let outcome = rig.run(.importWindow())
        await reached.wait()
        // The disconnect job waits for the member's import (deferred, no attempt burnt)…
        #expect(try await rig.run(.disconnect()) == "deferred:locked")
        // …and a disconnect committed meanwhile (another process) still wins.
        try await rig.store.disconnect(connectionID: connection.id, detail: "Disconnected by the member.")
        resume.fire()
        _ = try await outcome
        #expect(rig.store.blocks(memberID: "m-1").isEmpty)
        #expect(try await rig.store.cursor(connectionID: connection.id, calendarID: rig.provider.primaryCalendarID) == nil)
        let row = try #require(rig.store.connection(connection.id))
        #expect(row.record.status == .disconnected && row.lastInboundSyncAt == nil)
    }

    @Test("two imports of one member never run at once: the second is deferred, not failed")
    func oneImportAtATime() async throws {
        let rig = SyncTestRig()
        try await rig.connect()
        let reached = Signal()
        let resume = Signal()
        rig.provider.script(.readBusy, .pause(reached: reached, resume: resume))
        async let first = rig.run(.importWindow())
        await reached.wait()
        #expect(try await rig.run(.importWindow()) == "deferred:locked")
        resume.fire()
        #expect(try await first == "completed")
        #expect(rig.locks.held.isEmpty)
    }
}
