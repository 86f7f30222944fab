import Foundation

/// The XML bodies of the WebDAV/CalDAV requests calsync sends.
enum DAVRequests {
    /// Escapes text for XML content.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(character)
            }
        }
        return out
    }

    static let header = #"<?xml version="1.0" encoding="utf-8"?>"#
    static let namespaces = #"xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:cs="http://calendarserver.org/ns/""#

    static func element(_ name: DAVName) -> String {
        switch name.namespace {
        case DAVName.dav: "<d:\(name.local)/>"
        case DAVName.caldav: "<c:\(name.local)/>"
        case DAVName.calendarServer: "<cs:\(name.local)/>"
        default: "<x:\(name.local) xmlns:x=\"\(escape(name.namespace))\"/>"
        }
    }

    /// `PROPFIND` of some properties.
    static func propfind(_ properties: [DAVName]) -> String {
        "\(header)<d:propfind \(namespaces)><d:prop>\(properties.map(element).joined())</d:prop></d:propfind>"
    }

    /// `calendar-query` of the VEVENTs overlapping a window, answering each object's `calendar-data` (`data`) or
    /// its ETag only.
    static func calendarQuery(_ window: DateInterval, data: Bool) -> String {
        "\(header)<c:calendar-query \(namespaces)><d:prop>\(data ? "<c:calendar-data/>" : "<d:getetag/>")</d:prop><c:filter>"
            + "<c:comp-filter name=\"VCALENDAR\"><c:comp-filter name=\"VEVENT\">"
            + "<c:time-range start=\"\(utc(window.start))\" end=\"\(utc(window.end))\"/>"
            + "</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"
    }

    /// `calendar-query` of the objects whose VEVENT has this UID, answering hrefs and ETags only.
    static func calendarQuery(uid: String) -> String {
        "\(header)<c:calendar-query \(namespaces)><d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name=\"VCALENDAR\">"
            + "<c:comp-filter name=\"VEVENT\"><c:prop-filter name=\"UID\"><c:text-match collation=\"i;octet\">\(escape(uid))</c:text-match>"
            + "</c:prop-filter></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>"
    }

    /// `calendar-multiget` of some objects, with their ETags and data.
    static func multiget(_ hrefs: [String]) -> String {
        "\(header)<c:calendar-multiget \(namespaces)><d:prop><d:getetag/><c:calendar-data/></d:prop>"
            + hrefs.map { "<d:href>\(escape($0))</d:href>" }.joined() + "</c:calendar-multiget>"
    }

    /// `sync-collection` (RFC 6578) from a token (empty: the initial sync).
    static func syncCollection(token: String) -> String {
        "\(header)<d:sync-collection \(namespaces)><d:sync-token>\(escape(token))</d:sync-token><d:sync-level>1</d:sync-level>"
            + "<d:prop><d:getetag/></d:prop></d:sync-collection>"
    }

    /// `YYYYMMDDTHHMMSSZ`.
    static func utc(_ date: Date) -> String {
        let c = Calendar.utc.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ v: Int?) -> String { v.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        return "\(c.year ?? 1970)\(two(c.month))\(two(c.day))T\(two(c.hour))\(two(c.minute))\(two(c.second))Z"
    }
}

extension Calendar {
    /// The Gregorian calendar in UTC.
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}
