import CalsyncHTTP
import CalsyncSync
import Foundation

struct GoogleEventTime: Codable {
    var dateTime: String?
    var date: String?
    var timeZone: String?
}

struct GoogleAttendee: Decodable {
    var isSelf: Bool?
    var responseStatus: String?

    enum CodingKeys: String, CodingKey {
        case isSelf = "self"
        case responseStatus
    }
}

struct GoogleExtendedProperties: Codable {
    var `private`: [String: String]?
}

/// The fields of a Google event that busy reads need (nothing personal is decoded).
struct GoogleEvent: Decodable {
    var id: String
    var status: String?
    var transparency: String?
    var eventType: String?
    var start: GoogleEventTime?
    var end: GoogleEventTime?
    var attendees: [GoogleAttendee]?
    var extendedProperties: GoogleExtendedProperties?
}

struct GoogleEventsPage: Decodable {
    var items: [GoogleEvent]?
    var nextPageToken: String?
    var nextSyncToken: String?
}

struct GoogleEventID: Decodable {
    var id: String
    var etag: String?
}

struct GoogleCalendarListPage: Decodable {
    struct Entry: Decodable {
        var id: String
        var summary: String?
        var summaryOverride: String?
        var primary: Bool?
        var timeZone: String?
    }
    var items: [Entry]?
    var nextPageToken: String?
}

/// The body of an insert or patch: every written field, empty strings clearing old values.
struct GoogleEventWrite: Encodable {
    var id: String?
    var summary: String
    var description: String
    var location: String
    var start: GoogleEventTime
    var end: GoogleEventTime
    var visibility: String
    var transparency = "opaque"
    var status: String?
    var extendedProperties: GoogleExtendedProperties

    init(_ event: RenderedEvent, id: String?, status: String?) {
        self.id = id
        self.summary = event.title
        self.description = event.description ?? ""
        self.location = event.location ?? ""
        self.start = GoogleEventTime(dateTime: ProviderTime.formatRFC3339(event.start), date: nil, timeZone: event.timeZone)
        self.end = GoogleEventTime(dateTime: ProviderTime.formatRFC3339(event.end), date: nil, timeZone: event.timeZone)
        self.visibility = event.visibility == .private ? "private" : "default"
        self.status = status
        self.extendedProperties = GoogleExtendedProperties(private: [ExportMarker.propertyName: event.markerValue])
    }

    /// The same JSON as `JSONBody.encode(self)`, written without `JSONEncoder` (every export sends one).
    var jsonBytes: [UInt8] {
        func time(_ value: GoogleEventTime) -> JSONObjectText {
            var object = JSONObjectText()
            object.string("dateTime", value.dateTime)
            object.string("date", value.date)
            object.string("timeZone", value.timeZone)
            return object
        }
        var json = JSONObjectText()
        json.string("id", id)
        json.string("summary", summary)
        json.string("description", description)
        json.string("location", location)
        json.object("start", time(start))
        json.object("end", time(end))
        json.string("visibility", visibility)
        json.string("transparency", transparency)
        json.string("status", status)
        var properties = JSONObjectText()
        if let values = extendedProperties.private {
            var privateValues = JSONObjectText()
            for (key, value) in values.sorted(by: { $0.key < $1.key }) { privateValues.string(key, value) }
            properties.object("private", privateValues)
        }
        json.object("extendedProperties", properties)
        return json.bytes
    }
}
