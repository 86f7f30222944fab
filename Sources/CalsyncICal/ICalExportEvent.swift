import Foundation

/// The event calsync writes for one appointment: what ``ICalendar/render(_:)`` turns into a VCALENDAR.
package struct ICalExportEvent: Sendable, Hashable {
    /// The CLASS property.
    package enum Classification: String, Sendable, Hashable {
        /// `CLASS:PUBLIC`.
        case `public`
        /// `CLASS:PRIVATE`: only the owner sees the details.
        case `private`
        /// `CLASS:CONFIDENTIAL`.
        case confidential
    }

    /// The UID.
    package var uid: String
    /// SEQUENCE: the appointment's revision.
    package var sequence: Int
    /// DTSTAMP: when this text was made.
    package var stamp: Date
    /// Start (instant).
    package var start: Date
    /// End (instant, exclusive).
    package var end: Date
    /// The IANA zone DTSTART/DTEND are written in, with its VTIMEZONE; UTC (times with `Z`) when libical does not know it.
    package var timeZone: String
    /// SUMMARY.
    package var summary: String
    /// DESCRIPTION, if any.
    package var description: String?
    /// LOCATION, if any.
    package var location: String?
    /// CLASS, if any.
    package var classification: Classification?
    /// The value of ``ICalendar/exportMarkerProperty`` (e.g. the appointment id).
    package var markerValue: String
    /// The appointment's revision, written as ``ICalendar/revisionProperty`` (nil: not written).
    package var revision: Int64?

    /// Creates an event to export.
    package init(
        uid: String, sequence: Int, stamp: Date, start: Date, end: Date, timeZone: String, summary: String,
        description: String? = nil, location: String? = nil, classification: Classification? = nil, markerValue: String,
        revision: Int64? = nil
    ) {
        self.revision = revision
        self.uid = uid
        self.sequence = sequence
        self.stamp = stamp
        self.start = start
        self.end = end
        self.timeZone = timeZone
        self.summary = summary
        self.description = description
        self.location = location
        self.classification = classification
        self.markerValue = markerValue
    }
}
