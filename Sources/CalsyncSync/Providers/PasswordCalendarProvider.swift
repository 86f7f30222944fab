import CalsyncJobs
import Foundation

/// A provider that connects with a server address, a user name and a password (CalDAV) instead of an OAuth code.
package protocol PasswordCalendarProvider: CalendarProvider {
    /// Logs in and discovers the account's calendars; the default one is `isPrimary`. A refused login throws a
    /// ``ProviderError`` with code ``ProviderError/Code/invalidCredentials``.
    func connect(serverURL: String, username: String, password: String) async throws -> PasswordConnection
}

/// What a password login found: the credentials to seal and the calendars (the export one first).
package struct PasswordConnection: Sendable {
    /// The credentials to seal (the password in `accessToken`, the user name in `accountEmail`).
    package var credentials: ProviderCredentials
    /// The calendars that hold events; the one to export to and read is `isPrimary`.
    package var calendars: [ProviderCalendar]

    /// Creates a result.
    package init(credentials: ProviderCredentials, calendars: [ProviderCalendar]) {
        self.credentials = credentials
        self.calendars = calendars
    }
}

extension ProviderError.Code {
    /// `invalid_credentials`: the server refused the user name or password (401/403 at login).
    package static let invalidCredentials = Self("invalid_credentials")
    /// `discovery_failed`: the server's answers did not lead to a calendar (no principal, no calendar home).
    package static let discoveryFailed = Self("discovery_failed")
    /// `untrusted_redirect`: a redirect to plain http on another host than loopback, or to another scheme.
    package static let untrustedRedirect = Self("untrusted_redirect")
    /// `unreadable_calendar_data`: a calendar object could not be read as iCalendar.
    package static let unreadableCalendarData = Self("unreadable_calendar_data")
}

extension JobError.Code {
    /// `invalid_credentials`: the CalDAV server refused the user name or the (app-specific) password at connect.
    package static let invalidCredentials = Self("invalid_credentials")
}
