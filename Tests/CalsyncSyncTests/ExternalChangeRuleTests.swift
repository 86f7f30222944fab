import CalsyncSync
import Foundation
import Testing

/// Contract §8, the pure rule: which settled exports a read shows moved or deleted by the member.
@Suite("External changes, in process")
struct ExternalChangeRuleTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func export(_ appointment: String, id: String, settled: Bool = true, present: Bool = true) -> ExportedEvent {
        ExportedEvent(
            appointmentID: appointment, appliedRevision: 3, externalEventID: id, eventPresent: present,
            written: DateInterval(start: t0, end: t0.addingTimeInterval(3600)), settled: settled, updatedAt: t0,
            appliedPayload: nil)
    }

    static func own(_ id: String, shift: TimeInterval = 0) -> OwnEvent {
        OwnEvent(externalEventID: id, start: t0.addingTimeInterval(shift), end: t0.addingTimeInterval(3600 + shift))
    }

    static func changes(_ exports: [ExportedEvent], _ read: OwnEventsRead) -> [ExternalChange] {
        ExternalChangeRules.changes(exports, read: read, memberID: "m-1", provider: .google, now: t0).map(\.1)
    }

    @Test("our own times read back are no change; a move reports the new times at the applied revision")
    func moved() {
        let exports = [Self.export("a-1", id: "e1"), Self.export("a-2", id: "e2")]
        let read = OwnEventsRead(present: [Self.own("e1"), Self.own("e2", shift: 7200)], removedIDs: [], window: nil)
        let found = Self.changes(exports, read)
        #expect(found.count == 1)
        #expect(found.first?.appointmentID == "a-2" && found.first?.change == .moved && found.first?.appliedRevision == 3)
        #expect(found.first?.startsAt == Self.t0.addingTimeInterval(7200))
    }

    @Test("an incremental read's removal, or a full read's absence inside its window, is a delete")
    func deleted() {
        let exports = [Self.export("a-1", id: "e1"), Self.export("a-2", id: "e2")]
        #expect(Self.changes(exports, OwnEventsRead(present: [Self.own("e2")], removedIDs: ["e1"], window: nil)).map(\.appointmentID) == ["a-1"])
        // Incremental: not mentioned means unchanged.
        #expect(Self.changes(exports, OwnEventsRead(present: [], removedIDs: [], window: nil)).isEmpty)
        // Full: missing inside the window is gone; a window that does not reach the event says nothing.
        let inside = DateInterval(start: Self.t0.addingTimeInterval(-86_400), end: Self.t0.addingTimeInterval(86_400))
        #expect(Self.changes(exports, OwnEventsRead(present: [Self.own("e1")], removedIDs: [], window: inside)).map(\.change) == [.deleted])
        let before = DateInterval(start: Self.t0.addingTimeInterval(-86_400), end: Self.t0.addingTimeInterval(-3600))
        #expect(Self.changes(exports, OwnEventsRead(present: [], removedIDs: [], window: before)).isEmpty)
    }

    @Test("an export whose write has not settled, or that calsync removed, is never compared")
    func unsettledIsNotCompared() {
        let exports = [Self.export("a-1", id: "e1", settled: false), Self.export("a-2", id: "e2", present: false)]
        #expect(Self.changes(exports, OwnEventsRead(present: [Self.own("e1", shift: 600)], removedIDs: ["e2"], window: nil)).isEmpty)
    }

    @Test("the own-event accumulator keeps the last word per id")
    func lastWord() {
        var own = OwnEventAccumulator()
        own.present(Self.own("e1"))
        own.present(Self.own("e2"))
        own.other("e1")
        own.present(Self.own("e2", shift: 60))
        #expect(own.events == [Self.own("e2", shift: 60)])
    }
}
