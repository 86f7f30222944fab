import CalsyncSync
import Foundation

/// The seam to CalsyncICal (libical): renders an appointment's VEVENT and reads the busy instances of one
/// calendar object. TEMPORARY STUB until h5's CalsyncICal lands: render only, in UTC; reads refuse.
enum CalDAVICalendar {
    /// What a busy read needs to know of the member.
    struct ReadContext: Sendable {
        var window: DateInterval
        var memberTimeZone: TimeZone
        var memberAddresses: [String]
    }

    /// One busy stretch of an object; `idSuffix` is empty for a single event, the instance's id otherwise.
    struct BusyInstance: Sendable {
        var idSuffix: String
        var start: Date
        var end: Date
        var isAllDay: Bool
    }

    /// The VCALENDAR text of the appointment's event.
    static func render(_ event: RenderedEvent, uid: String) throws -> String {
        let lines = [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//calsync//EN", "BEGIN:VEVENT", "UID:\(uid)",
            "DTSTAMP:\(DAVRequests.utc(Date()))", "DTSTART:\(DAVRequests.utc(event.start))", "DTEND:\(DAVRequests.utc(event.end))",
            "SUMMARY:calsync", "X-CALSYNC-APPOINTMENT:\(event.markerValue)", "END:VEVENT", "END:VCALENDAR",
        ]
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// The busy instances of one object that overlap the window.
    static func busyInstances(_ text: String, _ context: ReadContext) throws -> [BusyInstance] {
        throw ProviderError.permanent(.unreadableCalendarData, "iCalendar reading is not available yet.")
    }
}
