import CalsyncHTTP
import CalsyncJobs
import CalsyncSync
import Foundation
import Logging

extension CalDAVCalendarProvider {
    /// The iCalendar UID of an appointment's event in a member's calendar: derived from (member, appointment).
    static func uid(_ key: ExportKey) -> String { "calsync-\(key.digest)" }

    /// Creates or updates the event (unconditional when no version is known).
    package func upsertEvent(
        _ event: RenderedEvent, key: ExportKey, calendarID: String, knownEventID: String?, credentials: ProviderCredentials
    ) async throws -> String {
        try await upsertEvent(event, key: key, calendarID: calendarID, knownEventID: knownEventID, knownETag: nil, credentials: credentials).id
    }

    /// Creates the event with `If-None-Match: *` at `<calendar>/<uid>.ics`, or updates the stored object with
    /// `If-Match` of its stored ETag. The object's id is the URL the server answered with; its ETag is re-read
    /// when the server sends none. A 412 (the object changed since calsync wrote it, or a create was retried)
    /// reads the current object and decides by revision: it is written over unless it holds a newer revision
    /// of the appointment than this write (``ICalendar/revisionProperty``), which is then kept as it is.
    package func upsertEvent(
        _ event: RenderedEvent, key: ExportKey, calendarID: String, knownEventID: String?, knownETag: String?,
        credentials: ProviderCredentials
    ) async throws -> WrittenEvent {
        let body = try await CalDAVICalendar.render(event, uid: Self.uid(key))
        let calendar = try url(calendarID)
        if let url = try self.objectURL(knownEventID, in: calendar) {
            let result = try await put(url, body, credentials, condition: knownETag.map { ("If-Match", $0) })
            if result.status == 412 {
                logger.debug("CalDAV object changed since calsync wrote it; writing over its current version")
                if let written = try await writeOver(url, body, revision: event.revision, calendar: calendar, credentials) { return written }
            } else if result.status == 404 {
                logger.debug("known CalDAV object missing, creating it", metadata: [LogKey.exportKey: "\(key)"])
            } else {
                guard result.isSuccess else { throw classify(result) }
                return try await written(result, url: url, calendar: calendar, credentials)
            }
        }
        let objectURL = calendar.appendingPathComponent("\(Self.uid(key)).ics")
        let result = try await put(objectURL, body, credentials, condition: ("If-None-Match", "*"))
        if result.status == 412 {
            // The object exists already (a retried create whose answer was lost): write over it.
            if let written = try await writeOver(objectURL, body, revision: event.revision, calendar: calendar, credentials) { return written }
            let again = try await put(objectURL, body, credentials, condition: ("If-None-Match", "*"))
            guard again.isSuccess else { throw classify(again) }
            return try await written(again, url: objectURL, calendar: calendar, credentials)
        }
        guard result.isSuccess else { throw classify(result) }
        let created = try await written(result, url: objectURL, calendar: calendar, credentials)
        if created.id != objectURL.absoluteString {
            // The server names objects itself: a retried create (its answer lost) may have made another object
            // of this UID under another name. Keep only this one.
            try await removeStrayEvents(key: key, calendarID: calendarID, keeping: created.id, credentials: credentials)
        }
        return created
    }

    /// Deletes every object of the appointment's UID in the calendar except `keeping` (a create that landed
    /// twice on a server that names objects itself).
    package func removeStrayEvents(
        key: ExportKey, calendarID: String, keeping eventID: String, credentials: ProviderCredentials
    ) async throws {
        let calendar = try url(calendarID)
        let (result, _) = try await sendFollowing(
            .REPORT, calendar, credentials, headers: [("Depth", "1")], body: DAVRequests.calendarQuery(uid: Self.uid(key)))
        guard result.status == 207 else { throw classify(result) }
        let keep = try url(eventID)
        for response in try multistatus(result).responses where response.status == nil || response.status == 200 {
            guard let object = Self.resolve(response.href, against: calendar), !CalDAVDiscovery.sameCollection(object, calendar),
                !CalDAVDiscovery.sameCollection(object, keep)
            else { continue }
            logger.debug("removing a second CalDAV object of one appointment", metadata: [LogKey.exportKey: "\(key)"])
            let gone = try await send(.DELETE, object, credentials)
            guard gone.isSuccess || gone.status == 404 || gone.status == 410 else { throw classify(gone) }
        }
    }

    /// Deletes the event.
    package func deleteEvent(key: ExportKey, calendarID: String, knownEventID: String?, credentials: ProviderCredentials) async throws {
        try await deleteEvent(key: key, calendarID: calendarID, knownEventID: knownEventID, knownETag: nil, credentials: credentials)
    }

    /// Deletes the object with `If-Match` of its stored ETag (a 412 re-reads the current one and deletes that);
    /// 404 and 410 count as success. Without a stored URL it deletes `<calendar>/<uid>.ics`, and when that is not
    /// there, every object of the calendar whose UID is the appointment's (found with `calendar-query`): a server
    /// may have stored the event under a name of its own.
    package func deleteEvent(
        key: ExportKey, calendarID: String, knownEventID: String?, knownETag: String?, credentials: ProviderCredentials
    ) async throws {
        let calendar = try url(calendarID)
        if let target = try objectURL(knownEventID, in: calendar) {
            try await delete(target, etag: knownETag, credentials)
            return
        }
        let named = calendar.appendingPathComponent("\(Self.uid(key)).ics")
        if try await delete(named, etag: nil, credentials) { return }
        for object in try await objectsWithUID(Self.uid(key), in: calendar, credentials) where object != named {
            try await delete(object, etag: nil, credentials)
        }
    }

    /// Deletes one object (conditionally on `etag`, re-read on a 412); whether it existed.
    @discardableResult
    private func delete(_ target: URL, etag: String?, _ credentials: ProviderCredentials) async throws -> Bool {
        var result = try await send(.DELETE, target, credentials, headers: etag.map { [("If-Match", $0)] } ?? [])
        if result.status == 412 {
            guard let etag = try await currentETag(target, credentials) else { return false }
            result = try await send(.DELETE, target, credentials, headers: [("If-Match", etag)])
        }
        if result.isSuccess { return true }
        if result.status == 404 || result.status == 410 { return false }
        throw classify(result)
    }

    /// The URLs of the calendar's objects whose VEVENT has this UID (`calendar-query` with a UID `prop-filter`),
    /// only those inside the collection.
    func objectsWithUID(_ uid: String, in calendar: URL, _ credentials: ProviderCredentials) async throws -> [URL] {
        let (result, _) = try await sendFollowing(
            .REPORT, calendar, credentials, headers: [("Depth", "1")], body: DAVRequests.calendarQuery(uid: uid))
        guard result.status == 207 else { throw classify(result) }
        return try multistatus(result).responses.compactMap { response in
            guard response.status == nil || response.status == 200, let url = Self.resolve(response.href, against: calendar),
                CalDAVURLPolicy.isObject(url, inside: calendar)
            else { return nil }
            return url
        }
    }

    /// The URL of a stored object id, when it lies inside the calendar's collection (``CalDAVURLPolicy``); nil
    /// when there is none, or when it points elsewhere (then the object is found again by its name or UID).
    func objectURL(_ id: String?, in calendar: URL) throws -> URL? {
        guard let id else { return nil }
        let url = try url(id)
        guard CalDAVURLPolicy.isObject(url, inside: calendar) else {
            logger.warning("ignoring a stored CalDAV object address outside its calendar's collection")
            return nil
        }
        return url
    }

    /// Reads the object's current version and writes over it, unless it holds a newer revision than `revision`
    /// (then it is kept, and returned as it is); nil when the object is gone.
    private func writeOver(
        _ url: URL, _ body: String, revision: Int64?, calendar: URL, _ credentials: ProviderCredentials
    ) async throws -> WrittenEvent? {
        // The object's data and ETag in one answer (calendar-multiget: every CalDAV server has it).
        let found = try await multiget(calendar, [url.path(percentEncoded: true)], credentials).first
        var etag = found?.etag
        if etag == nil { etag = try await currentETag(url, credentials) }
        guard let etag else { return nil }
        if let revision, let text = found?.data, let stored = await CalDAVICalendar.writtenRevision(text), stored > revision {
            logger.notice("CalDAV object holds a newer revision than this write; kept as it is")
            return WrittenEvent(id: url.absoluteString, etag: etag)
        }
        let result = try await put(url, body, credentials, condition: ("If-Match", etag))
        guard result.isSuccess else { throw classify(result) }
        return try await written(result, url: url, calendar: calendar, credentials)
    }

    /// PUT of an iCalendar object with one precondition header.
    private func put(_ url: URL, _ body: String, _ credentials: ProviderCredentials, condition: (String, String)?) async throws -> HTTPResult {
        try await send(.PUT, url, credentials, headers: condition.map { [$0] } ?? [], body: body, contentType: "text/calendar; charset=utf-8")
    }

    /// The written object: the URL the server answered with (`Location` when it lies inside the calendar's
    /// collection, else the request's), and its ETag (read back when the server sent none, as servers that
    /// change the body on the way in do).
    private func written(_ result: HTTPResult, url: URL, calendar: URL, _ credentials: ProviderCredentials) async throws -> WrittenEvent {
        var objectURL = url
        if let location = result.header("Location"), let answered = Self.resolve(location, against: url) {
            if CalDAVURLPolicy.isObject(answered, inside: calendar) {
                objectURL = answered
            } else {
                logger.warning("ignoring a CalDAV Location outside the calendar's collection")
            }
        }
        let etag: String?
        if let header = result.header("ETag"), !header.hasPrefix("W/") {
            etag = header
        } else {
            etag = try await currentETag(objectURL, credentials)
        }
        return WrittenEvent(id: objectURL.absoluteString, etag: etag)
    }

    /// The object's current ETag (PROPFIND `getetag`); nil when it does not exist.
    func currentETag(_ url: URL, _ credentials: ProviderCredentials) async throws -> String? {
        let result = try await send(.PROPFIND, url, credentials, headers: [("Depth", "0")], body: DAVRequests.propfind([.d("getetag")]))
        if result.status == 404 || result.status == 410 { return nil }
        guard result.status == 207 else { throw classify(result) }
        return try multistatus(result).responses.first?[.d("getetag")]?.text
    }
}
