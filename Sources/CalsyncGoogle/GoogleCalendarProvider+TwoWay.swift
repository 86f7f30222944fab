import CalsyncSync

// Two-way (contract §8): Google's reads report calsync's own events; an incremental read reports a deleted one as
// `cancelled` (a sync token keeps no time window), so a removal is a deletion (the default `ownEventAfterRemoval`).
extension GoogleCalendarProvider {
    /// Reads report calsync's own events.
    package var reportsOwnEvents: Bool { true }
}
