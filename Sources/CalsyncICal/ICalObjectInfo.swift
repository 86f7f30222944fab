/// What identifies a calendar object: its UID, its SEQUENCE and calsync's marker, read from its main VEVENT.
package struct ICalObjectInfo: Sendable, Hashable {
    /// The UID of the first VEVENT (the master when the object holds overrides).
    package var uid: String?
    /// Its SEQUENCE (calsync writes the appointment's revision there).
    package var sequence: Int?
    /// The value of ``ICalendar/exportMarkerProperty`` when calsync wrote the event.
    package var markerValue: String?
    /// The appointment revision calsync wrote (``ICalendar/revisionProperty``); nil in events written before it
    /// was written, or by others.
    package var revision: Int64?

    /// Creates the summary.
    package init(uid: String?, sequence: Int?, markerValue: String?, revision: Int64? = nil) {
        self.revision = revision
        self.uid = uid
        self.sequence = sequence
        self.markerValue = markerValue
    }
}
