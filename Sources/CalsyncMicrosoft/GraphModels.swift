import CalsyncHTTP
import CalsyncSync
import Foundation

struct GraphDateTime: Codable {
    var dateTime: String
    var timeZone: String?
}

struct GraphExtendedProperty: Codable {
    var id: String
    var value: String?
}

/// The fields of a Graph event that busy reads need (nothing personal is decoded).
struct GraphEvent: Decodable {
    struct Removed: Decodable {
        var reason: String?
    }
    struct ResponseStatus: Decodable {
        var response: String?
    }
    var id: String
    var removed: Removed?
    var isCancelled: Bool?
    var showAs: String?
    var isAllDay: Bool?
    var type: String?
    var responseStatus: ResponseStatus?
    var start: GraphDateTime?
    var end: GraphDateTime?
    var transactionId: String?
    var singleValueExtendedProperties: [GraphExtendedProperty]?

    enum CodingKeys: String, CodingKey {
        case id, isCancelled, showAs, isAllDay, type, responseStatus, start, end, transactionId, singleValueExtendedProperties
        case removed = "@removed"
    }
}

struct GraphEventsPage: Decodable {
    var value: [GraphEvent]
    var nextLink: String?
    var deltaLink: String?

    enum CodingKeys: String, CodingKey {
        case value
        case nextLink = "@odata.nextLink"
        case deltaLink = "@odata.deltaLink"
    }
}

struct GraphEventID: Decodable {
    var id: String
    var etag: String?

    enum CodingKeys: String, CodingKey {
        case id
        case etag = "@odata.etag"
    }
}

struct GraphIDPage: Decodable {
    var value: [GraphEventID]
}

struct GraphCalendar: Decodable {
    var id: String
    var name: String?
    var isDefaultCalendar: Bool?
}

struct GraphCalendarPage: Decodable {
    var value: [GraphCalendar]
    var nextLink: String?

    enum CodingKeys: String, CodingKey {
        case value
        case nextLink = "@odata.nextLink"
    }
}

struct GraphUser: Decodable {
    var mail: String?
    var userPrincipalName: String?
}

/// The body of a create or patch: every written field, empty strings clearing old values.
struct GraphEventWrite: Encodable {
    struct Body: Encodable {
        var contentType = "text"
        var content: String
    }
    struct Location: Encodable {
        var displayName: String
    }
    var subject: String
    var body: Body
    var location: Location
    var start: GraphDateTime
    var end: GraphDateTime
    var isAllDay = false
    var showAs = "busy"
    var sensitivity: String
    var isReminderOn = false
    var transactionId: String?
    var singleValueExtendedProperties: [GraphExtendedProperty]

    init(_ event: RenderedEvent, transactionID: String?) {
        subject = event.title
        body = Body(content: event.description ?? "")
        location = Location(displayName: event.location ?? "")
        start = GraphDateTime(dateTime: ProviderTime.formatGraph(event.start), timeZone: "UTC")
        end = GraphDateTime(dateTime: ProviderTime.formatGraph(event.end), timeZone: "UTC")
        sensitivity = event.visibility == .private ? "private" : "normal"
        transactionId = transactionID
        singleValueExtendedProperties = [GraphExtendedProperty(id: ExportMarker.graphPropertyID, value: event.markerValue)]
    }

    /// The same JSON as `JSONBody.encode(self)`, written without `JSONEncoder` (every export sends one).
    var jsonBytes: [UInt8] {
        func time(_ value: GraphDateTime) -> JSONObjectText {
            var object = JSONObjectText()
            object.string("dateTime", value.dateTime)
            object.string("timeZone", value.timeZone)
            return object
        }
        var json = JSONObjectText()
        json.string("subject", subject)
        var bodyObject = JSONObjectText()
        bodyObject.string("contentType", body.contentType)
        bodyObject.string("content", body.content)
        json.object("body", bodyObject)
        var locationObject = JSONObjectText()
        locationObject.string("displayName", location.displayName)
        json.object("location", locationObject)
        json.object("start", time(start))
        json.object("end", time(end))
        json.bool("isAllDay", isAllDay)
        json.string("showAs", showAs)
        json.string("sensitivity", sensitivity)
        json.bool("isReminderOn", isReminderOn)
        json.string("transactionId", transactionId)
        json.array(
            "singleValueExtendedProperties",
            singleValueExtendedProperties.map { property in
                var object = JSONObjectText()
                object.string("id", property.id)
                object.string("value", property.value)
                return object
            })
        return json.bytes
    }
}
