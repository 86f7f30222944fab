import CalsyncICal
import Foundation
import Synchronization

/// A change a member makes to one instance of a recurring event.
package enum SandboxInstanceChange: Sendable, Codable, Equatable {
    /// The instance is cancelled (Google: `status: cancelled`; Graph: gone from `calendarView`, `@removed` in delta).
    case cancel
    /// The instance moves (Google: an exception with `originalStartTime`; Graph: `type: exception`).
    case move(start: Date, end: Date)
}

/// What makes a stored event recurring: its rule lines, the zone they run in, and its changed instances.
struct SeriesState {
    /// RRULE / RDATE / EXDATE lines (Google's `recurrence`; for Graph, the rule behind its `pattern`).
    var recurrence: [String]
    /// The IANA zone the rule runs in (Google `start.timeZone`, Graph `originalStartTimeZone`; all-day: where dates are midnights).
    var timeZone: String
    /// A series of all-day events.
    var allDay: Bool
    /// Changed instances by recurrence id (`yyyyMMdd'T'HHmmss'Z'` of the original start, `yyyyMMdd` all-day).
    var exceptions: [String: SandboxInstanceChange] = [:]
    /// Instance ids that existed before a change of the series and exist no more: reported as removed by incremental reads.
    var retired: Set<String> = []
}

/// Recurring events: the sandbox expands a series into instances in its own zone (libical, through CalsyncICal), as
/// Google's `singleEvents=true` and Graph's `calendarView` do.
extension Sandbox {
    /// How far around now an incremental read (no window) expands a series.
    static let seriesHorizon: (past: Double, future: Double) = (366 * 86_400, 732 * 86_400)

    /// Inserts a recurring event as if the member created it: `event` is the first instance (its `timeZone` is the
    /// series' zone), `recurrence` Google-style lines (`RRULE:FREQ=WEEKLY;COUNT=10`, `EXDATE;TZID=…:…`, `RDATE…`).
    /// Returns the series id ("" on failure).
    @discardableResult
    package func insertRecurringEvent(
        _ provider: SandboxProvider, email: String, calendarID: String, _ event: SandboxEvent, recurrence: [String]
    ) -> String {
        let id = insertEvent(provider, email: email, calendarID: calendarID, event)
        guard !id.isEmpty else { return "" }
        state.withLock { s in
            guard let account = s.account(provider, email), let calendar = account.calendars[calendarID],
                  var stored = calendar.events[id]
            else { return }
            // All-day dates are midnights in the account's zone at Google, in the event's (else UTC) at Graph.
            let zone = event.allDayStart != nil && provider == .google ? account.timeZone : (event.timeZone ?? "UTC")
            stored.series = SeriesState(recurrence: recurrence, timeZone: zone, allDay: event.allDayStart != nil)
            switch provider {
            case .google:
                stored.resource["recurrence"] = .array(recurrence.map { .string($0) })
            case .microsoft:
                stored.resource["type"] = "seriesMaster"
                stored.resource["recurrence"] = GraphRecurrence.pattern(recurrence, start: stored.startInstant, zone: zone)
            }
            calendar.events[id] = stored
        }
        return id
    }

    /// Changes one instance of a series (by its recurrence id, as in the instance id after `_`) as if the member did.
    package func changeInstance(
        _ provider: SandboxProvider, email: String, calendarID: String, seriesID: String, recurrenceID: String,
        _ change: SandboxInstanceChange
    ) {
        state.withLock { s in
            guard let account = s.account(provider, email), let calendar = account.calendars[calendarID],
                  var stored = calendar.events[seriesID], stored.series != nil
            else { return }
            stored.series?.exceptions[recurrenceID] = change
            stored.changeSeq = calendar.nextSeq()
            if provider == .google {
                let etag = GoogleAPI.etag(s.nextEtagNumber())
                stored.etag = etag
                stored.resource["etag"] = .string(etag)
            }
            calendar.events[seriesID] = stored
        }
    }

    /// A stored event as the API lists it: itself, or (a series, expanded) its instances over `window` (nil: the horizon
    /// around now) plus tombstones of retired instances; every instance carries the series' change number.
    static func expanded(
        _ stored: StoredEvent, provider: SandboxProvider, account: AccountState, window: (Double, Double)?
    ) -> [StoredEvent] {
        guard let series = stored.series else { return [stored] }
        let now = Sandbox.now
        let (lo, hi) = window ?? (now - seriesHorizon.past, now + seriesHorizon.future)
        let instances = (try? ICalendar.seriesInstances(
            start: Date(timeIntervalSince1970: stored.startInstant), end: Date(timeIntervalSince1970: stored.endInstant),
            timeZone: series.timeZone, allDay: series.allDay, recurrence: series.recurrence,
            window: DateInterval(start: Date(timeIntervalSince1970: lo), end: Date(timeIntervalSince1970: max(lo, hi)))
        )) ?? []
        var out: [StoredEvent] = []
        var seen: Set<String> = []
        for instance in instances {
            var start = instance.start.timeIntervalSince1970
            var end = instance.end.timeIntervalSince1970
            let change = series.exceptions[instance.recurrenceID]
            if case .move(let s, let e) = change {
                start = s.timeIntervalSince1970
                end = e.timeIntervalSince1970
            }
            let id = "\(stored.id)_\(instance.recurrenceID)"
            seen.insert(id)
            var copy = stored
            copy.id = id
            copy.series = nil
            copy.startInstant = start
            copy.endInstant = end
            copy.deleted = stored.deleted || change == .cancel
            copy.resource = instanceResource(
                stored, provider: provider, account: account, series: series, id: id, instance: instance,
                start: start, end: end, cancelled: copy.deleted, exception: change != nil
            )
            out.append(copy)
        }
        for id in series.retired.sorted() where !seen.contains(id) {
            var tombstone = stored
            tombstone.id = id
            tombstone.series = nil
            tombstone.deleted = true
            tombstone.resource = provider == .google
                ? ["kind": "calendar#event", "id": .string(id), "status": "cancelled", "recurringEventId": .string(stored.id)]
                : ["id": .string(id), "type": "occurrence", "seriesMasterId": .string(stored.id)]
            tombstone.startInstant = lo - 1
            tombstone.endInstant = lo - 1
            out.append(tombstone)
        }
        return out
    }

    /// Keeps a series' rule and changed instances across an edit of its master, retiring instance ids the edit removed.
    static func carrySeries(into stored: inout StoredEvent, from existing: StoredEvent?, provider: SandboxProvider, account: AccountState) {
        guard stored.series == nil, let existing, var series = existing.series else { return }
        let before = Set(expanded(existing, provider: provider, account: account, window: nil).filter { !$0.deleted }.map(\.id))
        stored.series = series
        let after = Set(expanded(stored, provider: provider, account: account, window: nil).map(\.id))
        series.retired.formUnion(before.subtracting(after))
        stored.series = series
        if provider == .google { stored.resource["recurrence"] = existing.resource["recurrence"] }
        if provider == .microsoft {
            stored.resource["type"] = "seriesMaster"
            stored.resource["recurrence"] = existing.resource["recurrence"]
        }
    }

    /// The resource of one instance, in the provider's shape.
    private static func instanceResource(
        _ master: StoredEvent, provider: SandboxProvider, account: AccountState, series: SeriesState, id: String,
        instance: ICalSeriesInstance, start: Double, end: Double, cancelled: Bool, exception: Bool
    ) -> [String: JSONValue] {
        var r = master.resource
        r["id"] = .string(id)
        r.removeValue(forKey: "recurrence")
        let original = instance.start.timeIntervalSince1970
        switch provider {
        case .google:
            r["recurringEventId"] = .string(master.id)
            if series.allDay {
                let date = { (instant: Double) -> JSONValue in
                    let wall = instant + Double(SandboxTime.offset(of: account.timeZone, at: instant))
                    return ["date": .string(SandboxTime.formatDate(days: Int((wall / 86_400).rounded(.down))))]
                }
                r["originalStartTime"] = date(original)
                r["start"] = date(start)
                r["end"] = date(end)
            } else {
                let time = { (instant: Double) -> JSONValue in
                    [
                        "dateTime": .string(SandboxTime.formatWithOffset(instant, offset: SandboxTime.offset(of: series.timeZone, at: instant))),
                        "timeZone": .string(series.timeZone),
                    ]
                }
                r["originalStartTime"] = time(original)
                r["start"] = time(start)
                r["end"] = time(end)
            }
            if cancelled { r["status"] = "cancelled" }
        case .microsoft:
            r["type"] = .string(exception ? "exception" : "occurrence")
            r["seriesMasterId"] = .string(master.id)
            r["originalStart"] = .string(SandboxTime.formatUTC(original))
            r["start"] = ["dateTime": .string(SandboxTime.formatGraph(start)), "timeZone": "UTC"]
            r["end"] = ["dateTime": .string(SandboxTime.formatGraph(end)), "timeZone": "UTC"]
            r["recurrence"] = .null
        }
        return r
    }
}

/// Graph's `recurrence {pattern, range}` for the simple rules the sandbox is given (what a client reads of a series master).
enum GraphRecurrence {
    /// The pattern and range of the first RRULE line, best effort (`pattern.type` daily/weekly/absoluteMonthly/absoluteYearly).
    static func pattern(_ lines: [String], start: Double, zone: String) -> JSONValue {
        guard let rule = lines.first(where: { $0.uppercased().hasPrefix("RRULE:") }) else { return .null }
        var parts: [String: String] = [:]
        for item in rule.dropFirst("RRULE:".count).split(separator: ";") {
            let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
            if pair.count == 2 { parts[pair[0].uppercased()] = pair[1] }
        }
        let days = ["SU": "sunday", "MO": "monday", "TU": "tuesday", "WE": "wednesday", "TH": "thursday", "FR": "friday", "SA": "saturday"]
        let wall = start + Double(SandboxTime.offset(of: zone, at: start))
        let startDate = SandboxTime.formatDate(days: Int((wall / 86_400).rounded(.down)))
        var pattern: [String: JSONValue] = ["interval": .number(Double(Int(parts["INTERVAL"] ?? "1") ?? 1)), "firstDayOfWeek": "sunday"]
        switch parts["FREQ"] ?? "" {
        case "DAILY": pattern["type"] = "daily"
        case "WEEKLY":
            pattern["type"] = "weekly"
            pattern["daysOfWeek"] = .array((parts["BYDAY"] ?? "").split(separator: ",").compactMap { days[String($0)] }.map { .string($0) })
        case "MONTHLY": pattern["type"] = "absoluteMonthly"
        default: pattern["type"] = "absoluteYearly"
        }
        var range: [String: JSONValue] = ["startDate": .string(startDate), "recurrenceTimeZone": .string(zone), "type": "noEnd"]
        if let count = parts["COUNT"].flatMap(Int.init) {
            range["type"] = "numbered"
            range["numberOfOccurrences"] = .number(Double(count))
        } else if let until = parts["UNTIL"], until.count >= 8 {
            range["type"] = "endDate"
            let digits = Array(until)
            range["endDate"] = .string("\(String(digits[0..<4]))-\(String(digits[4..<6]))-\(String(digits[6..<8]))")
        }
        return ["pattern": .object(pattern), "range": .object(range)]
    }
}
