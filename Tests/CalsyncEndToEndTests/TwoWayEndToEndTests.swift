import CalsyncSandbox
import Foundation
import PostgresNIO
import Testing

/// Two-way (contract §8), end to end: a member moves or deletes an exported event in the sandbox calendar; the
/// real `calsync worker`'s imports record it once in `external_changes`, publish it, and restore it when asked.
@Suite("Two-way end to end")
struct TwoWayEndToEndTests {
    static let providers: [SandboxProvider] = [.google, .microsoft]

    /// Member `m-1` of an eligible organization, a running worker, and the member's calendar connected.
    static func connectedMember(_ world: SyncWorld, _ provider: SandboxProvider) async throws -> SandboxAccount {
        try await world.organization()
        try await world.member("m-1")
        try world.startWorker()
        return try await world.connect("m-1", provider: provider)
    }

    @Test("a member's move and delete are reported once, by incremental and full imports alike", arguments: providers)
    func moveAndDeleteReportedOnce(provider: SandboxProvider) async throws {
        try await SyncWorld.with { world in
            let account = try await Self.connectedMember(world, provider)
            try await world.export("m-1", "a-1", revision: 1, start: "\(TestDay.d(4))T10:00:00Z", end: "\(TestDay.d(4))T11:00:00Z")
            try await world.export("m-1", "a-2", revision: 1, start: "\(TestDay.d(5))T10:00:00Z", end: "\(TestDay.d(5))T11:00:00Z")
            try await world.idle()
            // calsync's own writes, read back, are no change.
            try await world.importNow("m-1")
            try await world.importNow("m-1", full: true)
            #expect(try await world.externalChanges("m-1").isEmpty, "\(world.allLogs)")

            let first = try #require(world.providerEvents(account).first { $0.event.start == instant("\(TestDay.d(4))T10:00:00Z") })
            world.sandbox.updateEvent(provider, email: account.email, calendarID: account.primaryCalendarID, eventID: first.id) {
                $0.start = instant("\(TestDay.d(4))T15:00:00Z")
                $0.end = instant("\(TestDay.d(4))T16:30:00Z")
            }
            try await world.importNow("m-1")
            var changes = try await world.externalChanges("m-1")
            try #require(changes.count == 1, "\(world.allLogs)")
            #expect(changes[0].appointment == "a-1" && changes[0].change == "moved" && changes[0].revision == 1)
            #expect(changes[0].start == instant("\(TestDay.d(4))T15:00:00Z") && changes[0].end == instant("\(TestDay.d(4))T16:30:00Z"))
            // Read again, incrementally and in full: nothing new.
            try await world.importNow("m-1")
            try await world.importNow("m-1", full: true)
            #expect(try await world.externalChanges("m-1").count == 1)

            let second = try #require(world.providerEvents(account).first { $0.event.start == instant("\(TestDay.d(5))T10:00:00Z") })
            world.sandbox.deleteEvent(provider, email: account.email, calendarID: account.primaryCalendarID, eventID: second.id)
            try await world.importNow("m-1")
            try await world.importNow("m-1", full: true)
            changes = try await world.externalChanges("m-1")
            try #require(changes.count == 2, "\(world.allLogs)")
            #expect(changes[1].appointment == "a-2" && changes[1].change == "deleted" && changes[1].start == nil)

            let published = try await world.lifecycleEvents().filter { $0["type"] == "appointment.changed_externally" }
            #expect(published.count == 2)
            #expect(published.first?["appointment_id"] == "a-1" && published.first?["starts_at"] == "\(TestDay.d(4))T15:00:00Z")
            #expect(published.first?["applied_revision"] == "1" && published.first?["change"] == "moved")
            #expect(published.last?["appointment_id"] == "a-2" && published.last?["change"] == "deleted")
            // The calendar stays as the member made it (notify), and a later export from the web tier wins.
            #expect(world.providerEvents(account).contains { $0.event.start == instant("\(TestDay.d(4))T15:00:00Z") })
            try await world.export("m-1", "a-1", revision: 2, start: "\(TestDay.d(4))T09:00:00Z", end: "\(TestDay.d(4))T10:00:00Z")
            try await world.idle()
            try await world.importNow("m-1")
            #expect(world.providerEvents(account).contains { $0.event.start == instant("\(TestDay.d(4))T09:00:00Z") })
            #expect(try await world.externalChanges("m-1").count == 2, "our own write of revision 2 is no change")
        }
    }

    @Test("an explicit window's import notices a move inside it, and only there", arguments: providers)
    func explicitWindow(provider: SandboxProvider) async throws {
        try await SyncWorld.with { world in
            let account = try await Self.connectedMember(world, provider)
            try await world.export("m-1", "a-1", revision: 1, start: "\(TestDay.d(4))T10:00:00Z", end: "\(TestDay.d(4))T11:00:00Z")
            try await world.idle()
            let event = try #require(world.providerEvents(account).first)
            world.sandbox.updateEvent(provider, email: account.email, calendarID: account.primaryCalendarID, eventID: event.id) {
                $0.start = instant("\(TestDay.d(4))T12:00:00Z")
                $0.end = instant("\(TestDay.d(4))T13:00:00Z")
            }
            // A window elsewhere says nothing of it; the window around it reports the move.
            try await world.enqueue(
                "import_window", #"{"member_id":"m-1","window_start":"\#(TestDay.d(19))T00:00:00Z","window_end":"\#(TestDay.d(20))T00:00:00Z"}"#)
            try await world.idle()
            #expect(try await world.externalChanges("m-1").isEmpty, "\(world.allLogs)")
            try await world.enqueue(
                "import_window", #"{"member_id":"m-1","window_start":"\#(TestDay.d(4))T00:00:00Z","window_end":"\#(TestDay.d(5))T00:00:00Z"}"#)
            try await world.idle()
            let changes = try await world.externalChanges("m-1")
            #expect(changes.map(\.change) == ["moved"] && changes.first?.start == instant("\(TestDay.d(4))T12:00:00Z"), "\(world.allLogs)")
        }
    }

    @Test("restore writes the applied revision back and is not itself reported", arguments: providers)
    func restore(provider: SandboxProvider) async throws {
        try await SyncWorld.with { world in
            let account = try await Self.connectedMember(world, provider)
            try await world.db.query("UPDATE calendar_connections SET external_changes = 'restore'", logger: e2eLogger)
            try await world.export("m-1", "a-1", revision: 1, start: "\(TestDay.d(4))T10:00:00Z", end: "\(TestDay.d(4))T11:00:00Z")
            try await world.idle()

            let event = try #require(world.providerEvents(account).first)
            world.sandbox.updateEvent(provider, email: account.email, calendarID: account.primaryCalendarID, eventID: event.id) {
                $0.start = instant("\(TestDay.d(4))T15:00:00Z")
                $0.end = instant("\(TestDay.d(4))T16:00:00Z")
            }
            try await world.importNow("m-1")
            var events = world.providerEvents(account)
            try #require(events.count == 1, "\(world.allLogs)")
            #expect(events[0].event.start == instant("\(TestDay.d(4))T10:00:00Z"), "\(world.allLogs)")
            try await world.importNow("m-1")
            try await world.importNow("m-1", full: true)
            #expect(try await world.externalChanges("m-1").map(\.change) == ["moved"])

            world.sandbox.deleteEvent(provider, email: account.email, calendarID: account.primaryCalendarID, eventID: events[0].id)
            try await world.importNow("m-1")
            events = world.providerEvents(account)
            try #require(events.count == 1, "\(world.allLogs)")
            #expect(events[0].event.start == instant("\(TestDay.d(4))T10:00:00Z") && events[0].event.end == instant("\(TestDay.d(4))T11:00:00Z"))
            try await world.importNow("m-1")
            try await world.importNow("m-1", full: true)
            #expect(try await world.externalChanges("m-1").map(\.change) == ["moved", "deleted"])
            let published = try await world.lifecycleEvents().filter { $0["type"] == "appointment.changed_externally" }
            #expect(published.map { $0["resolution"] } == ["restore", "restore"])
        }
    }

    /// The PATCH of revision 2 is applied but its answer is lost (504): the calendar shows revision 2 while
    /// PostgreSQL still says revision 1. That is calsync's own write in flight, not the member's move.
    @Test("calsync's own write whose answer was lost is not reported as the member's change", arguments: providers)
    func unsettledWriteIsNotAChange(provider: SandboxProvider) async throws {
        try await SyncWorld.with { world in
            _ = try await Self.connectedMember(world, provider)
            try await world.export("m-1", "a-1", revision: 1, start: "\(TestDay.d(4))T10:00:00Z", end: "\(TestDay.d(4))T11:00:00Z")
            try await world.idle()
            var fault = SandboxFault(kind: .dropAfterProcessing)
            fault.method = "PATCH"
            fault.pathContains = "/events"
            _ = world.sandbox.addFault(fault)
            try await world.export("m-1", "a-1", revision: 2, start: "\(TestDay.d(4))T13:00:00Z", end: "\(TestDay.d(4))T14:00:00Z")
            try await eventually("revision 2's answer to be lost", timeout: .seconds(10), context: world.allLogs) {
                world.allLogs.contains("job failed; will retry")
            }
            let before = try await world.connection("m-1", provider)?.lastInboundSyncAt
            try await world.enqueue("import_window", #"{"member_id":"m-1","full_resync":true}"#)
            try await eventually("the import to run", timeout: .seconds(10), context: world.allLogs) {
                try await world.connection("m-1", provider)?.lastInboundSyncAt != before
            }
            #expect(try await world.externalChanges("m-1").isEmpty, "\(world.allLogs)")
            world.sandbox.clearFaults()
            try await world.idle(timeout: .seconds(30))
            try await world.importNow("m-1")
            try await world.importNow("m-1", full: true)
            #expect(try await world.externalChanges("m-1").isEmpty, "\(world.allLogs)")
        }
    }
}

/// One row of `external_changes`.
struct ExternalChangeRow: Sendable {
    let appointment: String
    let revision: Int64
    let change: String
    let start: Date?
    let end: Date?
}

extension SyncWorld {
    /// Enqueues an import of the member (incremental unless `full`) and waits for the queues to drain.
    func importNow(_ member: String, full: Bool = false) async throws {
        try await enqueue("import_window", #"{"member_id":"\#(member)","full_resync":\#(full)}"#)
        try await idle()
    }

    /// The member's rows of `external_changes`, in the order found.
    func externalChanges(_ member: String) async throws -> [ExternalChangeRow] {
        let rows = try await db.query(
            "SELECT appointment_id, applied_revision, change, starts_at, ends_at FROM external_changes WHERE member_id = \(member) ORDER BY id",
            logger: e2eLogger)
        var out: [ExternalChangeRow] = []
        for try await (appointment, revision, change, start, end) in rows.decode((String, Int64, String, Date?, Date?).self) {
            out.append(ExternalChangeRow(appointment: appointment, revision: revision, change: change, start: start, end: end))
        }
        return out
    }
}
