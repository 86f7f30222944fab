import CalsyncSync
import Foundation

/// What a window read has gathered so far: the busy events and calsync's own events of the objects read (each
/// object once, whatever the server answers twice), and how many were unreadable.
struct WindowRead: Sendable {
    /// Objects handed to libical at once: one trip to its thread each, short enough not to hold it long.
    static let chunk = 256

    let calendar: URL
    let calendarID: String
    let context: CalDAVICalendar.ReadContext
    /// The hrefs already read.
    var seen: Set<String> = []
    var busy = BusyChangeAccumulator()
    var own = OwnEventAccumulator()
    var unreadable = 0

    /// Creates an empty read of `calendar`.
    init(calendar: URL, calendarID: String, context: CalDAVICalendar.ReadContext) {
        self.calendar = calendar
        self.calendarID = calendarID
        self.context = context
    }

    /// Expands the objects not read yet (CalsyncICal, on its own thread) and keeps their busy instances within the window.
    mutating func add(_ objects: [CalDAVCalendarProvider.FetchedObject]) async {
        var pending: [CalDAVICalendar.ObjectText] = []
        for object in objects where seen.insert(object.href).inserted {
            guard let objectURL = CalDAVCalendarProvider.resolve(object.href, against: calendar) else { continue }
            guard let text = object.data else {
                unreadable += 1
                continue
            }
            pending.append(CalDAVICalendar.ObjectText(objectID: objectURL.absoluteString, text: text))
        }
        let window = context.window
        for start in stride(from: 0, to: pending.count, by: Self.chunk) {
            let chunk = Array(pending[start..<min(pending.count, start + Self.chunk)])
            let readings = await CalDAVICalendar.read(chunk, context)
            for (object, reading) in zip(chunk, readings) {
                if let event = reading.own { own.present(event) }
                guard let instances = reading.instances else {
                    unreadable += 1
                    continue
                }
                for instance in instances where instance.start < window.end && instance.end > window.start {
                    busy.busy(
                        BusyEvent(
                            externalEventID: instance.idSuffix.isEmpty ? object.objectID : "\(object.objectID)#\(instance.idSuffix)",
                            calendarID: calendarID, start: instance.start, end: instance.end, isAllDay: instance.isAllDay))
                }
            }
        }
    }
}
