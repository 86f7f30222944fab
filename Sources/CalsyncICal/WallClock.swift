import CLibical
import Foundation

/// How the wall-clock times of an event become instants: a libical zone (the object's VTIMEZONE, libical's
/// builtin zone, UTC) or a Foundation zone (floating and all-day times in the member's zone, IANA names libical lacks).
enum WallClock {
    /// A libical `icaltimezone`.
    case libical(OpaquePointer)
    /// A Gregorian calendar in a Foundation time zone.
    case foundation(Calendar)

    /// libical's UTC zone (a static object of libical, never nil).
    static var utc: WallClock { .libical(utcZone) }

    /// libical's UTC `icaltimezone`.
    static var utcZone: OpaquePointer { icaltimezone_get_utc_timezone()! }

    /// A Gregorian calendar in `zone`.
    static func foundation(_ zone: TimeZone) -> WallClock {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return .foundation(calendar)
    }

    /// The instant (seconds since 1970) of a wall-clock time read on this clock; a date is its midnight.
    func instant(_ time: icaltimetype) -> Int {
        switch self {
        case .libical(let zone):
            return Int(icaltime_as_timet_with_zone(time, zone))
        case .foundation(let calendar):
            let isDate = time.is_date != 0
            let components = DateComponents(
                year: Int(time.year), month: Int(time.month), day: Int(time.day),
                hour: isDate ? 0 : Int(time.hour), minute: isDate ? 0 : Int(time.minute), second: isDate ? 0 : Int(time.second)
            )
            guard let date = calendar.date(from: components) else { return Int(icaltime_as_timet(time)) }
            return Int(date.timeIntervalSince1970.rounded(.down))
        }
    }

    /// The wall-clock time (no zone attached) of an instant on this clock.
    func wall(_ seconds: Int, isDate: Bool) -> icaltimetype {
        var time: icaltimetype
        switch self {
        case .libical(let zone):
            time = icaltime_from_timet_with_zone(time_t(seconds), isDate ? 1 : 0, zone)
        case .foundation(let calendar):
            let parts = calendar.dateComponents(
                [.year, .month, .day, .hour, .minute, .second], from: Date(timeIntervalSince1970: TimeInterval(seconds))
            )
            time = icaltime_null_time()
            time.year = Int32(parts.year ?? 1970)
            time.month = Int32(parts.month ?? 1)
            time.day = Int32(parts.day ?? 1)
            if isDate {
                time.is_date = 1
            } else {
                time.hour = Int32(parts.hour ?? 0)
                time.minute = Int32(parts.minute ?? 0)
                time.second = Int32(parts.second ?? 0)
            }
        }
        time.zone = nil
        return time
    }
}

/// Text forms of times used in recurrence ids.
enum ICalTimeText {
    /// `yyyyMMdd` of a date.
    static func date(_ time: icaltimetype) -> String {
        pad(Int(time.year), 4) + pad(Int(time.month), 2) + pad(Int(time.day), 2)
    }

    /// `yyyyMMdd'T'HHmmss'Z'` of an instant.
    static func utc(_ seconds: Int) -> String {
        let time = icaltime_from_timet_with_zone(time_t(seconds), 0, WallClock.utcZone)
        return date(time) + "T" + pad(Int(time.hour), 2) + pad(Int(time.minute), 2) + pad(Int(time.second), 2) + "Z"
    }

    /// `value` in decimal, zero-padded to `width` digits.
    private static func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}
