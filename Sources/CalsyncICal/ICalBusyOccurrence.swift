import Foundation

/// One busy stretch of one calendar object: a single event, or one instance of a recurring one.
package struct ICalBusyOccurrence: Sendable, Hashable {
    /// The event's UID (empty when the event has none).
    package var uid: String
    /// The instance's original start: `yyyyMMdd'T'HHmmss'Z'` (UTC), or `yyyyMMdd` for all-day events; nil for an event that does not recur.
    /// Stable across moves of the instance, so `uid` + `recurrenceID` names an instance.
    package var recurrenceID: String?
    /// Start (instant).
    package var start: Date
    /// End (instant, exclusive).
    package var end: Date
    /// A `VALUE=DATE` event: midnight to midnight in the member's time zone.
    package var allDay: Bool

    /// Creates an occurrence.
    package init(uid: String, recurrenceID: String?, start: Date, end: Date, allDay: Bool) {
        self.uid = uid
        self.recurrenceID = recurrenceID
        self.start = start
        self.end = end
        self.allDay = allDay
    }

    /// A stable id of the occurrence inside its calendar: the UID, plus `_` and the recurrence id for an instance.
    package var instanceID: String {
        guard let recurrenceID else { return uid }
        return "\(uid)_\(recurrenceID)"
    }
}
