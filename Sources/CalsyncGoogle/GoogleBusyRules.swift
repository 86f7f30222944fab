import CalsyncSync
import Foundation

/// Google's busy rules (providers.md): transparency, status, the member's own decline, event type,
/// and calsync's own exported events.
enum GoogleBusyRules {
    enum Verdict {
        case busy(BusyEvent)
        case notBusy
        case unreadable
    }

    static func classify(_ event: GoogleEvent, calendarID: String, calendar: Calendar) -> Verdict {
        if event.status == "cancelled" { return .notBusy }
        if event.transparency == "transparent" { return .notBusy }
        if event.eventType == "workingLocation" { return .notBusy }
        if event.attendees?.contains(where: { $0.isSelf == true && $0.responseStatus == "declined" }) == true { return .notBusy }
        if event.extendedProperties?.private?[ExportMarker.propertyName] != nil { return .notBusy }
        guard let start = event.start, let end = event.end else { return .unreadable }
        if let startDate = start.date {
            guard let endDate = end.date,
                let s = ProviderTime.startOfDay(startDate, in: calendar),
                let e = ProviderTime.startOfDay(endDate, in: calendar), e > s
            else { return .unreadable }
            return .busy(BusyEvent(externalEventID: event.id, calendarID: calendarID, start: s, end: e, isAllDay: true))
        }
        guard let startText = start.dateTime, let endText = end.dateTime,
            let s = ProviderTime.parseDateTime(startText), let e = ProviderTime.parseDateTime(endText)
        else { return .unreadable }
        guard e > s else { return .notBusy }
        return .busy(BusyEvent(externalEventID: event.id, calendarID: calendarID, start: s, end: e, isAllDay: false))
    }

    /// calsync's own event (its marker) with the times it shows now; nil for a cancelled one or anyone else's.
    static func ownEvent(_ event: GoogleEvent, calendar: Calendar) -> OwnEvent? {
        guard event.extendedProperties?.private?[ExportMarker.propertyName] != nil, event.status != "cancelled",
            let start = event.start, let end = event.end
        else { return nil }
        if let startDate = start.date {
            guard let endDate = end.date, let s = ProviderTime.startOfDay(startDate, in: calendar),
                let e = ProviderTime.startOfDay(endDate, in: calendar)
            else { return nil }
            return OwnEvent(externalEventID: event.id, start: s, end: e)
        }
        guard let startText = start.dateTime, let endText = end.dateTime,
            let s = ProviderTime.parseDateTime(startText), let e = ProviderTime.parseDateTime(endText)
        else { return nil }
        return OwnEvent(externalEventID: event.id, start: s, end: e)
    }
}
