import CLibical
import Foundation

/// One of calsync's own exported events as a calendar object holds it now (two-way, contract §8).
package struct ICalExportedEvent: Sendable, Hashable {
    /// The value of ``ICalendar/exportMarkerProperty``.
    package var markerValue: String
    /// Start (instant) of the event's DTSTART instance.
    package var start: Date
    /// End (instant, exclusive).
    package var end: Date
    /// STATUS:CANCELLED (a cancelled event of ours is as good as deleted).
    package var cancelled: Bool

    /// Creates the summary.
    package init(markerValue: String, start: Date, end: Date, cancelled: Bool) {
        self.markerValue = markerValue
        self.start = start
        self.end = end
        self.cancelled = cancelled
    }
}

extension ICalendar {
    /// Whether `text` mentions ``exportMarkerProperty`` (ASCII, case-insensitively): a cheap test before parsing, as
    /// most objects of a calendar are not calsync's.
    package static func mentionsExportMarker(_ text: String) -> Bool {
        let pattern = Array(exportMarkerProperty.utf8)
        var text = text
        return text.withUTF8 { bytes in
            guard bytes.count >= pattern.count else { return false }
            candidates: for start in 0...(bytes.count - pattern.count) {
                for offset in 0..<pattern.count {
                    var byte = bytes[start + offset]
                    if byte >= 0x61 && byte <= 0x7A { byte -= 0x20 }
                    if byte != pattern[offset] { continue candidates }
                }
                return true
            }
            return false
        }
    }

    /// calsync's own event in an object (its main VEVENT carries ``exportMarkerProperty``) with the times it shows
    /// now, read in the event's own time zone (`memberTimeZone` for floating or all-day times); nil for anybody
    /// else's object. calsync never exports a recurring event: a series (a member's edit) is read at its first
    /// instance (`window` bounds the expansion). Throws ``ICalError`` for hostile or malformed text; never crashes.
    package static func exportedEvent(
        in text: String, window: DateInterval, memberTimeZone: TimeZone, limits: ICalLimits = .default
    ) throws(ICalError) -> ICalExportedEvent? {
        try LibICal.preflight(text, limits: limits)
        return try LibICal.run { () throws(ICalError) -> ICalExportedEvent? in
            try LibICal.withParsed(text) { (root: OpaquePointer) throws(ICalError) -> ICalExportedEvent? in
                let events = LibICal.events(of: root)
                let main = events.first { icalcomponent_get_first_property($0, ICAL_RECURRENCEID_PROPERTY) == nil } ?? events.first
                guard let main, let marker = LibICal.xProperty(of: main, named: exportMarkerProperty) else { return nil }
                var expander = RecurrenceExpander(root: root, window: window, member: .foundation(memberTimeZone), addresses: [], limits: limits)
                let (_, candidates, _) = try expander.recurrenceSet(of: main)
                guard let first = candidates.values.min(by: { $0.start < $1.start }) else { return nil }
                return ICalExportedEvent(
                    markerValue: marker, start: Date(timeIntervalSince1970: TimeInterval(first.start)),
                    end: Date(timeIntervalSince1970: TimeInterval(max(first.end, first.start))),
                    cancelled: icalcomponent_get_status(main) == ICAL_STATUS_CANCELLED)
            }
        }
    }
}
