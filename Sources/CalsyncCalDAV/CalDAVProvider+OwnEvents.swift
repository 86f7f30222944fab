import CalsyncICal
import CalsyncSync
import Foundation

// Two-way (contract §8) for CalDAV: a window read also returns calsync's own exported objects (those whose VEVENT
// carries CalsyncICal's marker property) with the times the calendar shows now, as `BusySnapshot.ownEvents`; the
// object's URL is its id, as the export recorded it. An own object missing from a window read, or cancelled, is
// deleted (the import's window rule). An incremental read never returns changes here: any change in the
// collection (sync-collection or getctag) makes the import read the window again, which compares them.

extension CalDAVICalendar {
    /// calsync's own event in one object, with its current times; nil for anybody else's object. A cancelled
    /// object of ours is nil too (deleted as far as the booking is concerned).
    static func ownEvent(_ text: String, objectID: String, _ context: ReadContext) throws -> OwnEvent? {
        // Cheap test first: most objects of a calendar are not calsync's.
        guard ICalendar.mentionsExportMarker(text) else { return nil }
        do {
            guard let event = try ICalendar.exportedEvent(in: text, window: context.window, memberTimeZone: context.memberTimeZone),
                !event.cancelled
            else { return nil }
            return OwnEvent(externalEventID: objectID, start: event.start, end: event.end)
        } catch {
            throw ProviderError.permanent(.unreadableCalendarData, "A calendar object is not readable iCalendar: \(error.message)")
        }
    }
}

extension CalDAVCalendarProvider {
    /// CalDAV window reads return calsync's own objects (`BusySnapshot.ownEvents`), so imports compare them (two-way).
    package var reportsOwnEvents: Bool { true }
}
