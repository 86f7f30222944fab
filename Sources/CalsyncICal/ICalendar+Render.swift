import CLibical
import Foundation

extension ICalendar {
    /// The PRODID calsync writes.
    package static let productID = "-//calsync//calsync//EN"

    /// The VCALENDAR text of one exported event: UID, DTSTAMP, SEQUENCE, DTSTART/DTEND with TZID and that zone's
    /// VTIMEZONE (libical's builtin zone), SUMMARY, DESCRIPTION, LOCATION, CLASS and ``exportMarkerProperty``; never an
    /// ATTENDEE or ORGANIZER, so no server sends an invitation. Escaping and line folding are libical's.
    package static func render(_ event: ICalExportEvent) throws(ICalError) -> String {
        try LibICal.run { () throws(ICalError) -> String in
            guard let calendar = icalcomponent_new(ICAL_VCALENDAR_COMPONENT),
                  let vevent = icalcomponent_new(ICAL_VEVENT_COMPONENT)
            else { throw ICalError(.renderFailed, "libical could not create a component") }
            defer { icalcomponent_free(calendar) }
            icalcomponent_add_property(calendar, icalproperty_new_prodid(productID))
            icalcomponent_add_property(calendar, icalproperty_new_version("2.0"))

            let utc = WallClock.utcZone
            var zone = utc
            var tzid: String?
            let builtin = LibICal.builtinZone(event.timeZone)
            if let builtin, builtin != utc,
               let definition = icaltimezone_get_component(builtin),
               let copy = icalcomponent_new_clone(definition) {
                // libical names its builtin zones `/freeassociation.sourceforge.net/…`; clients expect the IANA name.
                if let property = icalcomponent_get_first_property(copy, ICAL_TZID_PROPERTY) {
                    icalproperty_set_tzid(property, event.timeZone)
                }
                // Only the observances from a year before the event on: the full history since 1893 is 150 lines.
                let from = event.start.addingTimeInterval(-366 * 86_400)
                icaltimezone_truncate_vtimezone(copy, time(from, in: utc), icaltime_null_time(), 0)
                icalcomponent_add_component(calendar, copy)
                zone = builtin
                tzid = event.timeZone
            }

            icalcomponent_add_component(calendar, vevent)
            icalcomponent_add_property(vevent, icalproperty_new_uid(clean(event.uid)))
            icalcomponent_add_property(vevent, icalproperty_new_dtstamp(time(event.stamp, in: utc)))
            icalcomponent_add_property(vevent, icalproperty_new_sequence(Int32(clamping: event.sequence)))
            let start = icalproperty_new_dtstart(time(event.start, in: zone))
            let end = icalproperty_new_dtend(time(event.end, in: zone))
            if let tzid {
                icalproperty_add_parameter(start, icalparameter_new_tzid(tzid))
                icalproperty_add_parameter(end, icalparameter_new_tzid(tzid))
            }
            icalcomponent_add_property(vevent, start)
            icalcomponent_add_property(vevent, end)
            icalcomponent_add_property(vevent, icalproperty_new_summary(clean(event.summary)))
            if let description = event.description {
                icalcomponent_add_property(vevent, icalproperty_new_description(clean(description)))
            }
            if let location = event.location {
                icalcomponent_add_property(vevent, icalproperty_new_location(clean(location)))
            }
            if let classification = event.classification {
                let value: icalproperty_class = switch classification {
                case .public: ICAL_CLASS_PUBLIC
                case .private: ICAL_CLASS_PRIVATE
                case .confidential: ICAL_CLASS_CONFIDENTIAL
                }
                icalcomponent_add_property(vevent, icalproperty_new_class(value))
            }
            if let marker = icalproperty_new_x(clean(event.markerValue)) {
                icalproperty_set_x_name(marker, exportMarkerProperty)
                icalcomponent_add_property(vevent, marker)
            }
            if let revision = event.revision, let property = icalproperty_new_x(String(revision)) {
                icalproperty_set_x_name(property, revisionProperty)
                icalcomponent_add_property(vevent, property)
            }
            if let problem = LibICal.currentError() {
                throw ICalError(.renderFailed, "libical could not build the event: \(problem)")
            }
            guard let text = icalcomponent_as_ical_string_r(calendar) else {
                throw ICalError(.renderFailed, "libical could not write the event")
            }
            defer { icalmemory_free_buffer(text) }
            return String(cString: text)
        }
    }

    /// The wall-clock time of `date` in `zone`, with the zone attached only for UTC (so libical writes `Z`).
    private static func time(_ date: Date, in zone: OpaquePointer) -> icaltimetype {
        var time = icaltime_from_timet_with_zone(time_t(date.timeIntervalSince1970.rounded(.down)), 0, zone)
        if zone != WallClock.utcZone { time.zone = nil }
        return time
    }

    /// Text fit for a property: no NUL or other control characters but line feed and tab (libical escapes those).
    private static func clean(_ text: String) -> String {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n")
        return String(String.UnicodeScalarView(normalized.unicodeScalars.filter {
            $0 == "\n" || $0 == "\t" || !($0.properties.generalCategory == .control)
        }))
    }
}
