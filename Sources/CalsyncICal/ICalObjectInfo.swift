/// What identifies a calendar object: its UID, its SEQUENCE and calsync's marker, read from its main VEVENT.
package struct ICalObjectInfo: Sendable, Hashable {
    /// The UID of the first VEVENT (the master when the object holds overrides).
    package var uid: String?
    /// Its SEQUENCE (calsync writes the appointment's revision there).
    package var sequence: Int?
    /// The value of ``ICalendar/exportMarkerProperty`` when calsync wrote the event.
    package var markerValue: String?

    /// Creates the summary.
    package init(uid: String?, sequence: Int?, markerValue: String?) {
        self.uid = uid
        self.sequence = sequence
        self.markerValue = markerValue
    }
}
