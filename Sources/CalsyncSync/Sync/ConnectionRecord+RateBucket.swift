import Foundation

extension ConnectionRecord {
    /// The provider-wide rate bucket of this connection's requests: the provider's name, or for CalDAV (one
    /// server per account, many servers) `caldav:<host>` of its calendar, so each server host has its own bucket.
    package var rateBucket: String {
        guard provider == .caldav else { return provider.rawValue }
        let host = (exportCalendarID ?? busyCalendarIDs.first).flatMap { URL(string: $0)?.host?.lowercased() }
        return host.map { "caldav:\($0)" } ?? provider.rawValue
    }
}
