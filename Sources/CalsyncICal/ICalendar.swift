import CLibical
import Foundation

/// iCalendar for calsync, over libical: busy occurrences of a calendar object, its identity, and the text of an export.
package enum ICalendar {
    /// The property calsync writes into every event it exports; imports skip events that carry it.
    package static let exportMarkerProperty = "X-CALSYNC-EXPORT"
    /// The property holding the appointment's revision in an exported event (a 412 is decided by it).
    package static let revisionProperty = "X-CALSYNC-REVISION"

    /// The busy occurrences of one calendar object (a VCALENDAR text: one event, or a recurring master with its
    /// RECURRENCE-ID overrides) that overlap `window`, recurrences expanded in the event's own time zone.
    /// Not busy: STATUS:CANCELLED, TRANSP:TRANSPARENT, the member's own ATTENDEE with PARTSTAT=DECLINED, and events
    /// carrying ``exportMarkerProperty``. All-day and floating times are read in `memberTimeZone`.
    /// Throws ``ICalError`` for hostile or malformed text; never crashes.
    package static func busyOccurrences(
        in text: String, window: DateInterval, memberTimeZone: TimeZone, memberAddresses: [String],
        limits: ICalLimits = .default
    ) throws(ICalError) -> [ICalBusyOccurrence] {
        try LibICal.preflight(text, limits: limits)
        let addresses = Set(memberAddresses.map(normalizedAddress))
        return try LibICal.run { () throws(ICalError) -> [ICalBusyOccurrence] in
            try LibICal.withParsed(text) { (root: OpaquePointer) throws(ICalError) -> [ICalBusyOccurrence] in
                var expander = RecurrenceExpander(
                    root: root, window: window, member: .foundation(memberTimeZone), addresses: addresses, limits: limits
                )
                return try expander.occurrences()
            }
        }
    }

    /// The UID, SEQUENCE and marker of an object's main VEVENT (e.g. to decide by revision after a 412).
    package static func inspect(_ text: String, limits: ICalLimits = .default) throws(ICalError) -> ICalObjectInfo {
        try LibICal.preflight(text, limits: limits)
        return try LibICal.run { () throws(ICalError) -> ICalObjectInfo in
            try LibICal.withParsed(text) { (root: OpaquePointer) throws(ICalError) -> ICalObjectInfo in
                let events = LibICal.events(of: root)
                let main = events.first { icalcomponent_get_first_property($0, ICAL_RECURRENCEID_PROPERTY) == nil } ?? events.first
                guard let main else { return ICalObjectInfo(uid: nil, sequence: nil, markerValue: nil) }
                let sequence = icalcomponent_get_first_property(main, ICAL_SEQUENCE_PROPERTY).map {
                    Int(icalproperty_get_sequence($0))
                }
                return ICalObjectInfo(
                    uid: LibICal.uid(of: main), sequence: sequence,
                    markerValue: LibICal.xProperty(of: main, named: exportMarkerProperty),
                    revision: LibICal.xProperty(of: main, named: revisionProperty).flatMap { Int64($0) }
                )
            }
        }
    }

    /// An address as compared: lowercased, without `mailto:`, trimmed.
    static func normalizedAddress(_ address: String) -> String {
        var text = address.trimmingCharacters(in: .whitespaces).lowercased()
        if text.hasPrefix("mailto:") { text.removeFirst("mailto:".count) }
        return text
    }
}
