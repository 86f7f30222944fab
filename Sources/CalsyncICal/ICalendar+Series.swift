import Foundation

/// One instance of a recurring series, before any override (what a provider's `singleEvents` expansion starts from).
package struct ICalSeriesInstance: Sendable, Hashable {
    /// The original start as a recurrence id: `yyyyMMdd'T'HHmmss'Z'` (UTC), or `yyyyMMdd` for an all-day series.
    package var recurrenceID: String
    /// Start (instant).
    package var start: Date
    /// End (instant, exclusive).
    package var end: Date
}

extension ICalendar {
    /// The instances of a series given as a provider holds it (Google's `recurrence` lines, or an RRULE made from a Graph
    /// pattern): first start and end, the zone the rule runs in, and RRULE/RDATE/EXDATE lines; those overlapping `window`.
    /// `allDay` series run on dates, midnight to midnight in `timeZone`. Throws ``ICalError`` for a line that is no rule.
    package static func seriesInstances(
        start: Date, end: Date, timeZone: String, allDay: Bool, recurrence: [String], window: DateInterval,
        limits: ICalLimits = .default
    ) throws(ICalError) -> [ICalSeriesInstance] {
        let zone = TimeZone(identifier: timeZone) ?? TimeZone(identifier: "UTC")!
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let known = ["RRULE:", "RDATE", "EXDATE", "EXRULE:"]
        for line in recurrence where !known.contains(where: { line.uppercased().hasPrefix($0) }) || line.contains(where: \.isNewline) {
            throw ICalError(.malformed, "a recurrence line is not RRULE, RDATE or EXDATE")
        }
        let lines: [String]
        if allDay {
            lines = ["DTSTART;VALUE=DATE:\(date(start, calendar))", "DTEND;VALUE=DATE:\(date(end, calendar))"]
        } else {
            lines = ["DTSTART;TZID=\(zone.identifier):\(wall(start, calendar))", "DTEND;TZID=\(zone.identifier):\(wall(end, calendar))"]
        }
        let text = (["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:\(productID)", "BEGIN:VEVENT", "UID:series"] + lines + recurrence
            + ["END:VEVENT", "END:VCALENDAR", ""]).joined(separator: "\r\n")
        try LibICal.preflight(text, limits: limits)
        return try LibICal.run { () throws(ICalError) -> [ICalSeriesInstance] in
            try LibICal.withParsed(text) { (root: OpaquePointer) throws(ICalError) -> [ICalSeriesInstance] in
                var expander = RecurrenceExpander(root: root, window: window, member: .foundation(zone), addresses: [], limits: limits)
                return try expander.seriesInstances()
            }
        }
    }

    /// `yyyyMMdd` of an instant on a calendar.
    private static func date(_ instant: Date, _ calendar: Calendar) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: instant)
        return String(format: "%04d%02d%02d", parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
    }

    /// `yyyyMMdd'T'HHmmss` of an instant on a calendar.
    private static func wall(_ instant: Date, _ calendar: Calendar) -> String {
        let parts = calendar.dateComponents([.hour, .minute, .second], from: instant)
        return date(instant, calendar) + String(format: "T%02d%02d%02d", parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
    }
}
