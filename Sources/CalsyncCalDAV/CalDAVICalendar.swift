import CalsyncICal
import CalsyncSync
import Foundation

/// The seam to CalsyncICal (libical): renders an appointment's VEVENT and reads the busy instances of one
/// calendar object. No iCalendar is parsed or written anywhere else in this target; libical runs on CalsyncICal's
/// own thread (``ICalendar/offload(_:)``), never blocking the cooperative pool.
enum CalDAVICalendar {
    /// What a busy read needs to know of the member.
    struct ReadContext: Sendable {
        var window: DateInterval
        var memberTimeZone: TimeZone
        var memberAddresses: [String]
    }

    /// One busy stretch of an object; `idSuffix` is empty for a single event, the instance's recurrence id otherwise.
    struct BusyInstance: Sendable {
        var idSuffix: String
        var start: Date
        var end: Date
        var isAllDay: Bool
    }

    /// The VCALENDAR text of the appointment's event: its VTIMEZONE, CLASS:PRIVATE for private events, calsync's
    /// marker property and the appointment's revision (as SEQUENCE and ``ICalendar/revisionProperty``), no ATTENDEE
    /// or ORGANIZER (nobody is invited).
    static func render(_ event: RenderedEvent, uid: String) async throws -> String {
        let sequence = event.revision.map { Int(clamping: $0) } ?? (Int(Date().timeIntervalSince1970) - 1_700_000_000)
        let export = ICalExportEvent(
            uid: uid, sequence: sequence, stamp: Date(), start: event.start, end: event.end,
            timeZone: event.timeZone, summary: event.title, description: event.description, location: event.location,
            classification: event.visibility == .private ? .private : nil, markerValue: event.markerValue, revision: event.revision)
        do {
            return try await ICalendar.offload { () throws(ICalError) -> String in try ICalendar.render(export) }
        } catch {
            throw ProviderError.permanent(.encodingFailed, "The event could not be written as iCalendar (\(error.code)); this is a calsync bug.")
        }
    }

    /// An object's id (its URL) and iCalendar text.
    struct ObjectText: Sendable {
        var objectID: String
        var text: String
    }

    /// What one object gave: calsync's own event in it, and its busy instances (nil when it is not readable).
    struct ObjectReading: Sendable {
        var own: OwnEvent?
        var instances: [BusyInstance]?
    }

    /// Reads many objects in one trip to CalsyncICal's libical thread: per object, calsync's own event
    /// (``ownEvent(_:objectID:_:)``) and the busy instances that overlap the window (nil for unreadable or hostile text), in order.
    static func read(_ objects: [ObjectText], _ context: ReadContext) async -> [ObjectReading] {
        let readings = try? await ICalendar.offload { () throws(ICalError) -> [ObjectReading] in
            objects.map { object in
                var reading = ObjectReading()
                do {
                    reading.own = try ownEvent(object.text, objectID: object.objectID, context)
                } catch {
                    return reading
                }
                reading.instances = try? ICalendar.busyOccurrences(
                    in: object.text, window: context.window, memberTimeZone: context.memberTimeZone,
                    memberAddresses: context.memberAddresses
                ).map { BusyInstance(idSuffix: $0.recurrenceID ?? "", start: $0.start, end: $0.end, isAllDay: $0.allDay) }
                return reading
            }
        }
        return readings ?? objects.map { _ in ObjectReading() }
    }

    /// The revision calsync wrote into an object (``ICalendar/revisionProperty``); nil when it holds none or
    /// is not readable.
    static func writtenRevision(_ text: String) async -> Int64? {
        (try? await ICalendar.offload { () throws(ICalError) -> ICalObjectInfo in try ICalendar.inspect(text) })?.revision
    }
}
