import CalsyncSync
import Foundation

/// Graph's busy rules (providers.md): showAs, cancellation, the member's decline, removals,
/// and calsync's own exported events.
enum GraphBusyRules {
    enum Verdict {
        case busy(BusyEvent)
        case notBusy
        case ignored
        case unreadable
    }

    /// Whether calsync exported this event (its transaction id or its marker property).
    static func isOwn(_ event: GraphEvent) -> Bool {
        if event.transactionId?.hasPrefix("calsync-") == true { return true }
        return event.singleValueExtendedProperties?.contains {
            $0.id.caseInsensitiveCompare(ExportMarker.graphPropertyID) == .orderedSame
        } == true
    }

    static func classify(_ event: GraphEvent, calendarID: String, calendar: Calendar) -> Verdict {
        if event.removed != nil { return .notBusy }
        if event.type == "seriesMaster" { return .ignored }
        if event.isCancelled == true { return .notBusy }
        if event.showAs == "free" || event.showAs == "workingElsewhere" { return .notBusy }
        if event.responseStatus?.response == "declined" { return .notBusy }
        if isOwn(event) { return .notBusy }
        guard let start = event.start, let end = event.end else { return .unreadable }
        if event.isAllDay == true {
            guard let s = ProviderTime.startOfDay(String(start.dateTime.prefix(10)), in: calendar),
                let e = ProviderTime.startOfDay(String(end.dateTime.prefix(10)), in: calendar), e > s
            else { return .unreadable }
            return .busy(BusyEvent(externalEventID: event.id, calendarID: calendarID, start: s, end: e, isAllDay: true))
        }
        guard let s = instant(start), let e = instant(end) else { return .unreadable }
        guard e > s else { return .notBusy }
        return .busy(BusyEvent(externalEventID: event.id, calendarID: calendarID, start: s, end: e, isAllDay: false))
    }

    /// A Graph time: UTC as asked with `Prefer: outlook.timezone="UTC"`; an IANA zone is honoured if sent anyway.
    static func instant(_ time: GraphDateTime) -> Date? {
        guard let wall = ProviderTime.parseDateTime(time.dateTime) else { return nil }
        guard let zoneName = time.timeZone, zoneName != "UTC", let zone = TimeZone(identifier: zoneName) else { return wall }
        return wall.addingTimeInterval(-Double(zone.secondsFromGMT(for: wall)))
    }

    /// calsync's own event with the times it shows now; nil for a removed or cancelled one or anyone else's.
    static func ownEvent(_ event: GraphEvent, calendar: Calendar) -> OwnEvent? {
        guard event.removed == nil, event.isCancelled != true, isOwn(event), let start = event.start, let end = event.end
        else { return nil }
        if event.isAllDay == true {
            guard let s = ProviderTime.startOfDay(String(start.dateTime.prefix(10)), in: calendar),
                let e = ProviderTime.startOfDay(String(end.dateTime.prefix(10)), in: calendar)
            else { return nil }
            return OwnEvent(externalEventID: event.id, start: s, end: e)
        }
        guard let s = instant(start), let e = instant(end) else { return nil }
        return OwnEvent(externalEventID: event.id, start: s, end: e)
    }
}
