import Foundation

/// One of calsync's own exported events as a busy read found it (marker or transaction id): its id and the
/// times the calendar shows now, so that an import can tell a member's move from calsync's own write.
package struct OwnEvent: Sendable, Hashable {
    /// The provider's event id.
    package var externalEventID: String
    /// Start (UTC instant) as the calendar shows it now.
    package var start: Date
    /// End (UTC instant, exclusive) as the calendar shows it now.
    package var end: Date

    /// Creates an own event.
    package init(externalEventID: String, start: Date, end: Date) {
        self.externalEventID = externalEventID
        self.start = start
        self.end = end
    }
}

/// Accumulates calsync's own events read page by page, keeping the last word per event id: an id whose
/// last word is anything else (cancelled, removed, not ours) is not present.
package struct OwnEventAccumulator: Sendable {
    private var order: [String] = []
    private var state: [String: OwnEvent] = [:]

    /// Creates an empty accumulator.
    package init() {}

    /// Records that calsync's event is in the calendar with these times.
    package mutating func present(_ event: OwnEvent) {
        if state.updateValue(event, forKey: event.externalEventID) == nil { order.append(event.externalEventID) }
    }

    /// Records any other word about an id (cancelled, removed, someone else's event).
    package mutating func other(_ id: String) { state[id] = nil }

    /// The own events present at the end of the read, in first-seen order.
    package var events: [OwnEvent] { order.compactMap { state[$0] } }
}
