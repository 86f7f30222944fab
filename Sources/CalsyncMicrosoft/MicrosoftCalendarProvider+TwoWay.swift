import CalsyncHTTP
import CalsyncSync
import Foundation

// Two-way (contract §8): Graph's delta reports an event that left the window fixed at the full read as `@removed`,
// just as it reports a deleted one; so a removed own event is read again before it counts as deleted.
extension MicrosoftCalendarProvider {
    /// Reads report calsync's own events.
    package var reportsOwnEvents: Bool { true }

    /// The own event read by id: nil when Graph answers 404/410 or it is cancelled, else its times now.
    package func ownEventAfterRemoval(id: String, calendarID: String, credentials: ProviderCredentials) async throws -> OwnEvent? {
        let result = try await send(.GET, eventURL(id), credentials, extraHeaders: [("Prefer", "outlook.timezone=\"UTC\"")])
        if result.status == 404 || result.status == 410 { return nil }
        guard result.isSuccess else { throw classify(result) }
        let event = try result.decode(GraphEvent.self, what: "event")
        guard event.isCancelled != true, let start = event.start, let end = event.end else { return nil }
        if event.isAllDay == true {
            let utc = ProviderTime.calendar(in: TimeZone(identifier: "UTC")!)
            guard let s = ProviderTime.startOfDay(String(start.dateTime.prefix(10)), in: utc),
                let e = ProviderTime.startOfDay(String(end.dateTime.prefix(10)), in: utc)
            else { return nil }
            return OwnEvent(externalEventID: id, start: s, end: e)
        }
        guard let s = GraphBusyRules.instant(start), let e = GraphBusyRules.instant(end) else {
            throw ProviderError.permanent(.malformedResponse, "Microsoft answered an event without readable times")
        }
        return OwnEvent(externalEventID: id, start: s, end: e)
    }
}
