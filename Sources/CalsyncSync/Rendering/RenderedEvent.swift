import Crypto
import Foundation

/// The provider-neutral event calsync writes for one appointment.
package struct RenderedEvent: Sendable, Hashable, Codable {
    /// Who may see the event's details.
    package enum Visibility: String, Sendable, Hashable, Codable {
        /// Only the calendar owner sees the details.
        case `private`
        /// The calendar's default sharing applies.
        case `default`
    }

    /// The event title.
    package var title: String
    /// The event body, if any.
    package var description: String?
    /// The event location, if any.
    package var location: String?
    /// Start (instant).
    package var start: Date
    /// End (instant, exclusive).
    package var end: Date
    /// The IANA time zone the event is shown in.
    package var timeZone: String
    /// Private or default visibility.
    package var visibility: Visibility
    /// The value of the private marker property (``ExportMarker``) that tells imports to skip it.
    package var markerValue: String
    /// The video meeting asked for (nil or `none`: no meeting). Only whether one is wanted is part of `contentHash`
    /// (asking for one writes once); the meeting itself is made once and kept, never rewritten by a move.
    package var video: VideoKind?
    /// The appointment's revision, for providers that keep it in the event (CalDAV's SEQUENCE and revision marker,
    /// to decide a 412 by revision); nil when unknown. Not part of `contentHash`.
    package var revision: Int64?

    /// Creates a rendered event.
    package init(
        title: String, description: String?, location: String?, start: Date, end: Date,
        timeZone: String, visibility: Visibility, markerValue: String
    ) {
        self.title = title
        self.description = description
        self.location = location
        self.start = start
        self.end = end
        self.timeZone = timeZone
        self.visibility = visibility
        self.markerValue = markerValue
    }

    /// A stable hash (hex SHA-256) of what is written to the provider: times, time zone, title,
    /// description, location, visibility. Equal hashes mean no provider write is needed.
    package var contentHash: String {
        var bytes: [UInt8] = []
        func field(_ s: String?) {
            guard let s else {
                bytes.append(0)
                return
            }
            bytes.append(1)
            let utf8 = Array(s.utf8)
            withUnsafeBytes(of: UInt64(utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: utf8)
        }
        field("v1")
        field(String(Int64((start.timeIntervalSince1970 * 1000).rounded())))
        field(String(Int64((end.timeIntervalSince1970 * 1000).rounded())))
        field(timeZone)
        field(title)
        field(description)
        field(location)
        field(visibility.rawValue)
        // Appended only when wanted, so that the hashes of events without video stay as they were.
        if video?.wanted == true { field("video") }
        return SHA256.hash(data: bytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

/// Renders appointments into provider-neutral events according to a connection's ``EventDetails``.
package enum EventRenderer {
    /// The longest title written (providers cap it; long names are cut, not refused).
    package static let maxTitleLength = 250
    /// The longest description written.
    package static let maxDescriptionLength = 8000

    /// Renders one appointment for the calendar of `key.memberID`.
    package static func render(_ appointment: AppointmentSnapshot, details: EventDetails, key: ExportKey) -> RenderedEvent {
        let service = clean(appointment.serviceName)
        let timeZone = clean(appointment.timeZone).flatMap { TimeZone(identifier: $0) != nil ? $0 : nil } ?? "UTC"
        var title: String
        var description: String?
        var location: String?
        let visibility: RenderedEvent.Visibility
        switch details {
        case .busy:
            title = "Busy"
            visibility = .private
        case .private:
            title = service ?? "Appointment"
            visibility = .private
        case .full:
            title = service ?? "Appointment"
            let customer = clean(appointment.customerName)
            if let customer { title += " – \(customer)" }
            var lines: [String] = []
            if let customer { lines.append("Customer: \(customer)") }
            if let notes = clean(appointment.notes) { lines.append(notes) }
            description = lines.isEmpty ? nil : String(lines.joined(separator: "\n\n").prefix(maxDescriptionLength))
            location = clean(appointment.location)
            visibility = .default
        }
        title = String(title.prefix(maxTitleLength))
        return RenderedEvent(
            title: title, description: description, location: location,
            start: appointment.startsAt, end: appointment.endsAt, timeZone: timeZone,
            visibility: visibility, markerValue: key.markerValue
        )
    }

    private static func clean(_ s: String?) -> String? {
        guard let trimmed = s?.trimmingCharacters(in: .whitespacesAndNewlines), !trimmed.isEmpty else { return nil }
        return trimmed
    }
}
