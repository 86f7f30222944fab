import CLibical
import Foundation

/// Expands the events of one parsed calendar object into busy occurrences over a window (runs inside ``LibICal/run(_:)``).
struct RecurrenceExpander {
    /// When and how long an event is.
    struct Timing {
        /// DTSTART as wall-clock time (no zone attached).
        var start: icaltimetype
        /// The clock DTSTART is read on.
        var clock: WallClock
        /// A `VALUE=DATE` event.
        var isDate: Bool
        /// The exact length of a timed event, in seconds.
        var seconds: Int
        /// The length of an all-day event, in days.
        var days: Int32
    }

    /// One instance of a recurrence set.
    struct Candidate {
        /// Start and end (seconds since 1970).
        var start: Int
        var end: Int
        /// The instance's wall-clock start.
        var wall: icaltimetype
    }

    /// The parsed object (owned by the caller).
    let root: OpaquePointer
    /// The window, in seconds since 1970: [start, end).
    let windowStart: Int
    let windowEnd: Int
    /// The clock of floating and all-day times: the member's zone.
    let member: WallClock
    /// The member's addresses, normalized, for PARTSTAT=DECLINED.
    let addresses: Set<String>
    /// The work bounds.
    let limits: ICalLimits
    /// Resolved zones by TZID.
    private var clocks: [String: WallClock] = [:]
    /// The occurrences found so far.
    private var found: [ICalBusyOccurrence] = []
    /// Recurrence-iterator steps taken so far (bounded by ``ICalLimits/maxIterations``).
    private var iterations = 0

    /// Prepares an expansion of `root`'s events over `window`.
    init(root: OpaquePointer, window: DateInterval, member: WallClock, addresses: Set<String>, limits: ICalLimits) {
        self.root = root
        self.windowStart = Int(window.start.timeIntervalSince1970.rounded(.down))
        self.windowEnd = Int(window.end.timeIntervalSince1970.rounded(.up))
        self.member = member
        self.addresses = addresses
        self.limits = limits
    }

    /// The busy occurrences of every event of the object, by start.
    mutating func occurrences() throws(ICalError) -> [ICalBusyOccurrence] {
        var masters: [(uid: String, event: OpaquePointer)] = []
        var overrides: [String: [OpaquePointer]] = [:]
        var order: [String] = []
        for event in LibICal.events(of: root) {
            let uid = LibICal.uid(of: event) ?? ""
            if icalcomponent_get_first_property(event, ICAL_RECURRENCEID_PROPERTY) != nil {
                if overrides[uid] == nil { order.append(uid) }
                overrides[uid, default: []].append(event)
            } else {
                masters.append((uid, event))
            }
        }
        for (uid, master) in masters {
            try expand(master, uid: uid, overrides: overrides.removeValue(forKey: uid) ?? [])
        }
        // Overrides whose master is not in this object (a server may hold only the instances a member was invited to).
        for uid in order {
            for event in overrides[uid] ?? [] where isBusy(event) && !isCalsyncExport(event) {
                let timing = try timing(of: event, fallback: nil)
                let start = timing.clock.instant(timing.start)
                try emit(uid: uid, recurrenceID: try recurrenceKey(of: event).text, timing: timing, start: start)
            }
        }
        return found.sorted { ($0.start, $0.instanceID) < ($1.start, $1.instanceID) }
    }

    /// The occurrences of one master and its overrides.
    private mutating func expand(_ master: OpaquePointer, uid: String, overrides: [OpaquePointer]) throws(ICalError) {
        guard !isCalsyncExport(master), icalcomponent_get_status(master) != ICAL_STATUS_CANCELLED else { return }
        let (timing, candidates, recurs) = try recurrenceSet(of: master)

        var overridden: Set<Int> = []
        // RANGE=THISANDFUTURE overrides: from their instance on, later instances shift and take their length and rules.
        var futures: [(from: Int, shift: Int, timing: Timing, busy: Bool)] = []
        for event in overrides {
            let key = try recurrenceKey(of: event)
            overridden.insert(key.instant)
            let busy = isBusy(event) && !isCalsyncExport(event)
            let moved = try self.timing(of: event, fallback: timing)
            let start = moved.clock.instant(moved.start)
            if isThisAndFuture(event) {
                futures.append((key.instant, start - key.instant, moved, busy))
            }
            guard busy else { continue }
            try emit(uid: uid, recurrenceID: key.text, timing: moved, start: start)
        }
        futures.sort { $0.from < $1.from }
        let masterBusy = isBusy(master)
        for candidate in candidates.values where !overridden.contains(candidate.start) {
            let id = recurs ? recurrenceText(wall: candidate.wall, instant: candidate.start, isDate: timing.isDate) : nil
            if let future = futures.last(where: { $0.from < candidate.start }) {
                guard future.busy else { continue }
                let start = candidate.start + future.shift
                let length = future.timing.isDate ? candidate.end - candidate.start : future.timing.seconds
                try emit(uid: uid, recurrenceID: id, start: start, end: start + length, allDay: timing.isDate)
                continue
            }
            guard masterBusy else { continue }
            try emit(uid: uid, recurrenceID: id, start: candidate.start, end: candidate.end, allDay: timing.isDate)
        }
    }

    /// The instances of a master from DTSTART, RRULE, RDATE and EXDATE (overrides not applied) that may overlap the window.
    mutating func recurrenceSet(of master: OpaquePointer) throws(ICalError) -> (Timing, [Int: Candidate], recurs: Bool) {
        let timing = try timing(of: master, fallback: nil)
        let rules = LibICal.properties(of: master, ICAL_RRULE_PROPERTY)
        let dates = LibICal.properties(of: master, ICAL_RDATE_PROPERTY)
        var candidates: [Int: Candidate] = [:]
        let first = timing.clock.instant(timing.start)
        candidates[first] = Candidate(start: first, end: end(of: timing, startingAt: timing.start, instant: first), wall: timing.start)
        for rule in rules {
            try iterate(rule, timing: timing, into: &candidates)
        }
        for date in dates {
            addDate(date, timing: timing, into: &candidates)
        }
        removeExceptions(of: master, timing: timing, from: &candidates)
        return (timing, candidates, !rules.isEmpty || !dates.isEmpty)
    }

    /// The instances of the object's first master that overlap the window, by start; busy rules not applied.
    mutating func seriesInstances() throws(ICalError) -> [ICalSeriesInstance] {
        guard let master = LibICal.events(of: root).first else { return [] }
        let (timing, candidates, _) = try recurrenceSet(of: master)
        var out: [ICalSeriesInstance] = []
        for candidate in candidates.values.sorted(by: { $0.start < $1.start }) {
            let overlaps = candidate.start < windowEnd
                && (candidate.end > windowStart || (candidate.end == candidate.start && candidate.start >= windowStart))
            guard overlaps else { continue }
            guard out.count < limits.maxOccurrences else {
                throw ICalError(.tooManyOccurrences, "the series has more than \(limits.maxOccurrences) instances in the window")
            }
            out.append(ICalSeriesInstance(
                recurrenceID: recurrenceText(wall: candidate.wall, instant: candidate.start, isDate: timing.isDate),
                start: Date(timeIntervalSince1970: TimeInterval(candidate.start)),
                end: Date(timeIntervalSince1970: TimeInterval(candidate.end))
            ))
        }
        return out
    }

    /// Adds the instances of one RRULE that may overlap the window, iterated by libical on wall-clock time.
    private mutating func iterate(_ property: OpaquePointer, timing: Timing, into candidates: inout [Int: Candidate]) throws(ICalError) {
        var rule = icalproperty_get_rrule(property)
        switch rule.freq {
        case ICAL_NO_RECURRENCE:
            throw ICalError(.malformed, "an RRULE has no valid FREQ" + (LibICal.currentError().map { " (libical: \($0))" } ?? ""))
        case ICAL_SECONDLY_RECURRENCE, ICAL_MINUTELY_RECURRENCE:
            throw ICalError(.unsupportedRecurrence, "an RRULE repeats every second or minute; calsync reads HOURLY and coarser")
        default:
            break
        }
        let span = timing.isDate ? Int(timing.days) * 86_400 : timing.seconds
        let earliest = windowStart - span - 2 * 86_400  // slack for zone offsets and daylight-saving shifts
        if icaltime_is_null_time(rule.until) == 0 {
            // UNTIL in UTC becomes the event's wall-clock time, so libical compares like with like.
            if icaltime_is_utc(rule.until) != 0 && !timing.isDate {
                rule.until = timing.clock.wall(Int(icaltime_as_timet(rule.until)), isDate: false)
            } else if rule.until.is_date != 0 && !timing.isDate {
                // A date UNTIL on a timed event (against RFC 5545, common in practice) includes that whole day.
                rule.until.is_date = 0
                rule.until.hour = 23
                rule.until.minute = 59
                rule.until.second = 59
            }
            rule.until.zone = nil
            if timing.clock.instant(rule.until) < earliest { return }
        }
        guard let iterator = icalrecur_iterator_new(rule, timing.start) else {
            throw ICalError(.malformed, "libical refused an RRULE" + (LibICal.currentError().map { " (\($0))" } ?? ""))
        }
        defer { icalrecur_iterator_free(iterator) }
        if rule.count == 0 && earliest > timing.clock.instant(timing.start) {
            // Jump close to the window (libical refuses with COUNT, which must count from DTSTART).
            _ = icalrecur_iterator_set_start(iterator, timing.clock.wall(earliest, isDate: timing.isDate))
        }
        while true {
            var next = icalrecur_iterator_next(iterator)
            if icaltime_is_null_time(next) != 0 { break }
            iterations += 1
            guard iterations <= limits.maxIterations else {
                throw ICalError(.tooManyOccurrences, "a recurrence needs more than \(limits.maxIterations) steps to reach the window")
            }
            next.zone = nil
            let start = timing.clock.instant(next)
            if start >= windowEnd { break }
            let end = end(of: timing, startingAt: next, instant: start)
            guard end >= windowStart else { continue }
            candidates[start] = Candidate(start: start, end: end, wall: next)
        }
    }

    /// Adds one RDATE (a date, a date-time or a period) to the recurrence set.
    private mutating func addDate(_ property: OpaquePointer, timing: Timing, into candidates: inout [Int: Candidate]) {
        let value = icalproperty_get_rdate(property)
        if icaltime_is_null_time(value.time) == 0 {
            var wall = value.time
            let clock = clock(for: property, time: wall)
            wall.zone = nil
            let start = clock.instant(wall)
            candidates[start] = Candidate(start: start, end: end(of: timing, startingAt: wall, instant: start), wall: wall)
        } else if icaltime_is_null_time(value.period.start) == 0 {
            var wall = value.period.start
            let clock = clock(for: property, time: wall)
            wall.zone = nil
            let start = clock.instant(wall)
            var end = start + Int(icaldurationtype_as_int(value.period.duration))
            if icaltime_is_null_time(value.period.end) == 0 {
                var until = value.period.end
                let endClock = self.clock(for: property, time: until)
                until.zone = nil
                end = endClock.instant(until)
            }
            candidates[start] = Candidate(start: start, end: max(start, end), wall: wall)
        }
    }

    /// Removes the EXDATEs from the recurrence set (a date EXDATE of a timed event removes that day's instances).
    private mutating func removeExceptions(of master: OpaquePointer, timing: Timing, from candidates: inout [Int: Candidate]) {
        var days: Set<String> = []
        for property in LibICal.properties(of: master, ICAL_EXDATE_PROPERTY) {
            var time = icalproperty_get_exdate(property)
            guard icaltime_is_null_time(time) == 0 else { continue }
            if time.is_date != 0 && !timing.isDate {
                days.insert(ICalTimeText.date(time))
                continue
            }
            let clock = clock(for: property, time: time)
            time.zone = nil
            candidates.removeValue(forKey: clock.instant(time))
        }
        if !days.isEmpty {
            candidates = candidates.filter { !days.contains(ICalTimeText.date($0.value.wall)) }
        }
    }

    /// An override's RECURRENCE-ID: the instant that names the instance it replaces, and its text form.
    private mutating func recurrenceKey(of event: OpaquePointer) throws(ICalError) -> (instant: Int, text: String) {
        guard let property = icalcomponent_get_first_property(event, ICAL_RECURRENCEID_PROPERTY) else {
            throw ICalError(.malformed, "an override has no RECURRENCE-ID")
        }
        var time = icalproperty_get_recurrenceid(property)
        guard icaltime_is_null_time(time) == 0 else { throw ICalError(.malformed, "an override's RECURRENCE-ID is not a date or date-time") }
        let clock = clock(for: property, time: time)
        time.zone = nil
        let instant = clock.instant(time)
        return (instant, recurrenceText(wall: time, instant: instant, isDate: time.is_date != 0))
    }

    /// Whether an override's RECURRENCE-ID carries `RANGE=THISANDFUTURE`.
    private func isThisAndFuture(_ event: OpaquePointer) -> Bool {
        guard let property = icalcomponent_get_first_property(event, ICAL_RECURRENCEID_PROPERTY),
              let range = icalproperty_get_first_parameter(property, ICAL_RANGE_PARAMETER)
        else { return false }
        return icalparameter_get_range(range) == ICAL_RANGE_THISANDFUTURE
    }

    /// The text of a recurrence id: the date of an all-day instance, else its start in UTC.
    private func recurrenceText(wall: icaltimetype, instant: Int, isDate: Bool) -> String {
        isDate ? ICalTimeText.date(wall) : ICalTimeText.utc(instant)
    }

    /// The end of an instance that starts at `wall` (`instant`).
    private func end(of timing: Timing, startingAt wall: icaltimetype, instant: Int) -> Int {
        guard timing.isDate else { return instant + timing.seconds }
        var end = wall
        end.is_date = 1
        icaltime_adjust(&end, timing.days, 0, 0, 0)
        return timing.clock.instant(end)
    }

    /// When and how long an event is; an override without DTEND or DURATION takes its master's length.
    private mutating func timing(of event: OpaquePointer, fallback: Timing?) throws(ICalError) -> Timing {
        guard let property = icalcomponent_get_first_property(event, ICAL_DTSTART_PROPERTY) else {
            throw ICalError(.malformed, "a VEVENT has no DTSTART")
        }
        var start = icalproperty_get_dtstart(property)
        guard icaltime_is_null_time(start) == 0, icaltime_is_valid_time(start) != 0 else {
            throw ICalError(.malformed, "a VEVENT's DTSTART is not a date or date-time")
        }
        let clock = clock(for: property, time: start)
        start.zone = nil
        let isDate = start.is_date != 0
        var timing = Timing(start: start, clock: clock, isDate: isDate, seconds: 0, days: 1)
        let duration = icalcomponent_get_first_property(event, ICAL_DURATION_PROPERTY).map {
            Int(icaldurationtype_as_int(icalproperty_get_duration($0)))
        }
        if let endProperty = icalcomponent_get_first_property(event, ICAL_DTEND_PROPERTY) {
            var end = icalproperty_get_dtend(endProperty)
            if isDate {
                if end.is_date != 0 {
                    timing.days = Int32(clamping: (Int(icaltime_as_timet(end)) - Int(icaltime_as_timet(start))) / 86_400)
                }
            } else {
                let endClock = self.clock(for: endProperty, time: end)
                end.zone = nil
                timing.seconds = endClock.instant(end) - clock.instant(start)
            }
        } else if let duration {
            if isDate {
                timing.days = Int32(clamping: (duration + 86_399) / 86_400)
            } else {
                timing.seconds = duration
            }
        } else if let fallback, fallback.isDate == isDate {
            timing.seconds = fallback.seconds
            timing.days = fallback.days
        }
        timing.seconds = max(0, timing.seconds)
        timing.days = max(1, timing.days)
        return timing
    }

    /// The clock a time property is read on: UTC for `Z`, the member's zone for dates and floating times, else its TZID's zone.
    private mutating func clock(for property: OpaquePointer, time: icaltimetype) -> WallClock {
        if icaltime_is_utc(time) != 0 { return .utc }
        guard time.is_date == 0, let tzid = LibICal.tzid(of: property) else { return member }
        if let known = clocks[tzid] { return known }
        let clock = resolve(tzid, near: property)
        clocks[tzid] = clock
        return clock
    }

    /// A TZID's zone: libical's builtin zone of that IANA name, else the object's VTIMEZONE, else Foundation's zone of
    /// that name (or of its IANA tail, as in `/mozilla.org/…/Europe/Berlin`), else the member's zone.
    private func resolve(_ tzid: String, near property: OpaquePointer) -> WallClock {
        if let zone = LibICal.builtinZone(tzid) { return .libical(zone) }
        var calendar = icalproperty_get_parent(property)
        while let current = calendar, icalcomponent_isa(current) != ICAL_VCALENDAR_COMPONENT {
            calendar = icalcomponent_get_parent(current)
        }
        if let calendar, let zone = icalcomponent_get_timezone(calendar, tzid) { return .libical(zone) }
        if let zone = TimeZone(identifier: tzid) { return .foundation(zone) }
        let parts = tzid.split(separator: "/")
        for count in [3, 2, 1] where parts.count > count {
            let tail = parts.suffix(count).joined(separator: "/")
            if let zone = LibICal.builtinZone(tail) { return .libical(zone) }
            if let zone = TimeZone(identifier: tail) { return .foundation(zone) }
        }
        return member
    }

    /// Whether an event blocks time: not cancelled, not transparent, not declined by the member.
    private func isBusy(_ event: OpaquePointer) -> Bool {
        if icalcomponent_get_status(event) == ICAL_STATUS_CANCELLED { return false }
        if let transp = icalcomponent_get_first_property(event, ICAL_TRANSP_PROPERTY) {
            let value = icalproperty_get_transp(transp)
            if value == ICAL_TRANSP_TRANSPARENT || value == ICAL_TRANSP_TRANSPARENTNOCONFLICT { return false }
        }
        guard !addresses.isEmpty else { return true }
        for attendee in LibICal.properties(of: event, ICAL_ATTENDEE_PROPERTY) {
            guard let value = icalproperty_get_attendee(attendee),
                  addresses.contains(ICalendar.normalizedAddress(String(cString: value))),
                  let partstat = icalproperty_get_first_parameter(attendee, ICAL_PARTSTAT_PARAMETER)
            else { continue }
            if icalparameter_get_partstat(partstat) == ICAL_PARTSTAT_DECLINED { return false }
        }
        return true
    }

    /// Whether calsync wrote the event.
    private func isCalsyncExport(_ event: OpaquePointer) -> Bool {
        LibICal.xProperty(of: event, named: ICalendar.exportMarkerProperty) != nil
    }

    /// Records an occurrence of `timing` starting at `start` when it overlaps the window.
    private mutating func emit(uid: String, recurrenceID: String?, timing: Timing, start: Int) throws(ICalError) {
        try emit(
            uid: uid, recurrenceID: recurrenceID, start: start, end: end(of: timing, startingAt: timing.start, instant: start),
            allDay: timing.isDate
        )
    }

    /// Records an occurrence when it overlaps the window (an instant event counts when it lies inside it).
    private mutating func emit(uid: String, recurrenceID: String?, start: Int, end: Int, allDay: Bool) throws(ICalError) {
        let overlaps = start < windowEnd && (end > windowStart || (end == start && start >= windowStart))
        guard overlaps else { return }
        guard found.count < limits.maxOccurrences else {
            throw ICalError(.tooManyOccurrences, "the calendar object has more than \(limits.maxOccurrences) busy occurrences in the window")
        }
        found.append(ICalBusyOccurrence(
            uid: uid, recurrenceID: recurrenceID,
            start: Date(timeIntervalSince1970: TimeInterval(start)), end: Date(timeIntervalSince1970: TimeInterval(end)),
            allDay: allDay
        ))
    }
}
