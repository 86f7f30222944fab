import CalsyncHTTP
import CalsyncSync
import Foundation

/// Finds a CalDAV account's calendars: the RFC 6764 well-known URL (or the given URL), `current-user-principal`,
/// `calendar-home-set`, then the collections of the home that hold VEVENTs. The default calendar is the
/// principal's `schedule-default-calendar-URL` when the server gives one, else the first writable calendar.
/// Every redirect and every href it follows stays within ``CalDAVURLPolicy/Scope/discovery(start:)``.
struct CalDAVDiscovery {
    let client: CalDAVCalendarProvider
    let credentials: ProviderCredentials

    static let startProperties: [DAVName] = [
        .d("current-user-principal"), .d("resourcetype"), .c("calendar-home-set"), .c("supported-calendar-component-set"),
        .d("current-user-privilege-set"), .d("displayname"),
    ]
    static let calendarProperties: [DAVName] = [
        .d("resourcetype"), .d("displayname"), .c("supported-calendar-component-set"), .d("current-user-privilege-set"),
    ]

    /// Runs the discovery from the member's server URL.
    func run(serverURL: String) async throws -> [ProviderCalendar] {
        guard let start = URL(string: serverURL.trimmingCharacters(in: .whitespaces)), start.host != nil,
            CalDAVURLPolicy.allowed(start)
        else {
            throw ProviderError.permanent(
                .discoveryFailed,
                "The CalDAV server address must be an https URL (for example https://caldav.icloud.com); plain http is accepted only on this machine.")
        }
        let scope = CalDAVURLPolicy.Scope.discovery(start: start)
        let wellKnown = URL(string: "/.well-known/caldav", relativeTo: start)!.absoluteURL
        let candidates = start.path.isEmpty || start.path == "/" ? [wellKnown, start] : [start, wellKnown]
        var principal: URL?
        var home: URL?
        for candidate in candidates {
            let answer: DAVMultistatus
            let answeredURL: URL
            do {
                (answer, answeredURL) = try await client.propfind(
                    candidate, depth: 0, Self.startProperties, credentials, follow: true, scope: scope)
            } catch let error as ProviderError where error.httpStatus == 401 || error.httpStatus == 403 {
                throw refusedLogin(error.httpStatus)
            } catch let error as ProviderError where error.kind == .notFound || error.code == .unexpectedStatus || error.code == .badRequest {
                continue
            }
            guard let response = answer.responses.first else { continue }
            // The given URL is a calendar itself.
            if let type = response[.d("resourcetype")], type.childNames.contains(.c("calendar")),
                let calendar = calendarEntry(response, base: answeredURL, fallback: answeredURL, scope: scope)
            {
                return [ProviderCalendar(id: calendar.url.absoluteString, name: calendar.name, isPrimary: true, timeZone: nil)]
            }
            if let href = response[.c("calendar-home-set")]?.hrefs.first {
                home = try CalDAVURLPolicy.href(href, against: answeredURL, scope: scope)
            }
            if let href = response[.d("current-user-principal")]?.hrefs.first {
                principal = try CalDAVURLPolicy.href(href, against: answeredURL, scope: scope)
            }
            if principal != nil || home != nil { break }
        }
        var defaultCalendar: URL?
        if let principal {
            let (answer, answeredURL) = try await client.propfind(
                principal, depth: 0, [.c("calendar-home-set"), .c("schedule-inbox-URL"), .c("schedule-default-calendar-URL")],
                credentials, follow: true, scope: scope)
            if let response = answer.responses.first {
                if let href = response[.c("calendar-home-set")]?.hrefs.first {
                    home = try CalDAVURLPolicy.href(href, against: answeredURL, scope: scope)
                }
                if let href = response[.c("schedule-default-calendar-URL")]?.hrefs.first {
                    // Only compared with the listed calendars, never requested.
                    defaultCalendar = CalDAVCalendarProvider.resolve(href, against: answeredURL)
                } else if let inboxHref = response[.c("schedule-inbox-URL")]?.hrefs.first,
                    let inbox = try? CalDAVURLPolicy.href(inboxHref, against: answeredURL, scope: scope)
                {
                    // RFC 6638 puts the default calendar on the scheduling inbox.
                    if let (inboxAnswer, inboxURL) = try? await client.propfind(
                        inbox, depth: 0, [.c("schedule-default-calendar-URL")], credentials, follow: true, scope: scope),
                        let href = inboxAnswer.responses.first?[.c("schedule-default-calendar-URL")]?.hrefs.first
                    {
                        defaultCalendar = CalDAVCalendarProvider.resolve(href, against: inboxURL)
                    }
                }
            }
        }
        guard let home else {
            throw ProviderError.permanent(
                .discoveryFailed,
                "The CalDAV server did not say where this account's calendars are (no calendar-home-set); check the server address.")
        }
        let (listing, homeURL) = try await client.propfind(
            home, depth: 1, Self.calendarProperties, credentials, follow: true, scope: scope)
        var calendars: [(url: URL, name: String, writable: Bool)] = []
        for response in listing.responses {
            guard let type = response[.d("resourcetype")], type.childNames.contains(.c("calendar")),
                let entry = calendarEntry(response, base: homeURL, fallback: nil, scope: scope), entry.holdsEvents
            else { continue }
            calendars.append((entry.url, entry.name, entry.writable))
        }
        guard !calendars.isEmpty else { return [] }
        let chosen =
            calendars.firstIndex { defaultCalendar != nil && Self.sameCollection($0.url, defaultCalendar!) }
            ?? calendars.firstIndex(where: \.writable) ?? 0
        return calendars.enumerated().map { index, calendar in
            ProviderCalendar(id: calendar.url.absoluteString, name: calendar.name, isPrimary: index == chosen, timeZone: nil)
        }
    }

    /// A calendar collection of an answer: its absolute URL (with a trailing slash), name, VEVENT support, write
    /// access; nil when its href lies outside the discovery's scope.
    func calendarEntry(
        _ response: DAVResponse, base: URL, fallback: URL?, scope: CalDAVURLPolicy.Scope
    ) -> (url: URL, name: String, holdsEvents: Bool, writable: Bool)? {
        guard var url = response.href.isEmpty ? fallback : CalDAVCalendarProvider.resolve(response.href, against: base),
            CalDAVURLPolicy.allowed(url, in: scope)
        else { return nil }
        if !url.absoluteString.hasSuffix("/"), let slashed = URL(string: url.absoluteString + "/") { url = slashed }
        let components = response[.c("supported-calendar-component-set")]?.components ?? []
        let privileges = response[.d("current-user-privilege-set")]?.childNames
        let writable =
            privileges.map { $0.contains(.d("write")) || $0.contains(.d("all")) || $0.contains(.d("write-content")) } ?? true
        let name = response[.d("displayname")]?.text ?? ""
        return (url, name.isEmpty ? url.lastPathComponent : name, components.isEmpty || components.contains("VEVENT"), writable)
    }

    static func sameCollection(_ a: URL, _ b: URL) -> Bool {
        func key(_ url: URL) -> String {
            var path = url.path
            while path.hasSuffix("/") { path.removeLast() }
            return "\(url.host?.lowercased() ?? "")\(path)"
        }
        return key(a) == key(b)
    }

    func refusedLogin(_ status: Int?) -> ProviderError {
        ProviderError(
            code: .invalidCredentials, kind: .reconnectRequired, httpStatus: status,
            message:
                "The CalDAV server refused the user name or password (HTTP \(status ?? 401)). For iCloud, use an app-specific password from appleid.apple.com; then connect again.")
    }
}
