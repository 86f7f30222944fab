import CalsyncHTTP
import CalsyncJobs
import CalsyncSync
import Foundation
import Logging

extension CalDAVCalendarProvider {
    /// Reads the busy events of a window: `calendar-query` with a time range for the hrefs and ETags of the
    /// objects that overlap it, then `calendar-multiget` in batches for their data, expanded by calsync
    /// (CalsyncICal) in each event's own time zone. The cursor is the collection's `sync-token` (RFC 6578),
    /// read before the query, or its `getctag` when the server has no sync-collection.
    package func readBusy(
        calendarID: String, window: DateInterval, memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> BusySnapshot {
        let calendar = try url(calendarID)
        let cursor = try await collectionCursor(calendar, credentials)
        let (result, _) = try await sendFollowing(
            .REPORT, calendar, credentials, headers: [("Depth", "1")], body: DAVRequests.calendarQuery(window))
        guard result.status == 207 else { throw classify(result) }
        let hrefs = try multistatus(result).responses.compactMap { response -> String? in
            guard response.status == nil || response.status == 200,
                let url = Self.resolve(response.href, against: calendar), !CalDAVDiscovery.sameCollection(url, calendar)
            else { return nil }
            return response.href
        }
        var accumulator = BusyChangeAccumulator()
        var own = OwnEventAccumulator()
        var unreadable = 0
        let context = CalDAVICalendar.ReadContext(
            window: window, memberTimeZone: memberTimeZone, memberAddresses: credentials.accountEmail.map { [$0] } ?? [])
        for object in try await fetchAll(calendar, hrefs, credentials) {
            guard let objectURL = Self.resolve(object.href, against: calendar) else { continue }
            let objectID = objectURL.absoluteString
            guard let text = object.data else {
                unreadable += 1
                continue
            }
            do {
                if let event = try CalDAVICalendar.ownEvent(text, objectID: objectID, context) { own.present(event) }
                for instance in try await CalDAVICalendar.busyInstances(text, context) {
                    guard instance.start < window.end, instance.end > window.start else { continue }
                    accumulator.busy(
                        BusyEvent(
                            externalEventID: instance.idSuffix.isEmpty ? objectID : "\(objectID)#\(instance.idSuffix)",
                            calendarID: calendarID, start: instance.start, end: instance.end, isAllDay: instance.isAllDay))
                }
            } catch {
                unreadable += 1
            }
        }
        if unreadable > 0 {
            logger.warning(
                "skipped CalDAV objects that are not readable iCalendar (or too large)", metadata: [LogKey.skipped: "\(unreadable)"])
        }
        var snapshot = BusySnapshot(events: accumulator.events, cursor: cursor)
        snapshot.ownEvents = own.events
        return snapshot
    }

    /// Whether anything changed since the cursor: `sync-collection` from the stored token (or the `getctag`).
    /// No change gives an empty change set and the new token; any change (or a refused token) asks for a full
    /// read of the window, which expands every recurring object again in calsync.
    package func readBusyChanges(
        calendarID: String, cursor: SyncCursor, memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> BusyChanges {
        let calendar = try url(calendarID)
        if cursor.value.hasPrefix("sync:") {
            let token = String(cursor.value.dropFirst("sync:".count))
            let (result, _) = try await sendFollowing(
                .REPORT, calendar, credentials, headers: [("Depth", "1")], body: DAVRequests.syncCollection(token: token))
            guard result.status == 207 else {
                let error = classify(result)
                // A refused token (403/409 `valid-sync-token`, one server answers 418, some 400 or 412): rebuild.
                if error.kind == .fullResyncRequired || [400, 403, 409, 412, 418].contains(result.status) {
                    throw CalDAVErrorClassifier.syncTokenRefused(result.status)
                }
                throw error
            }
            let answer = try multistatus(result)
            let changed = answer.responses.filter { response in
                guard let url = Self.resolve(response.href, against: calendar) else { return false }
                return !CalDAVDiscovery.sameCollection(url, calendar)
            }
            guard changed.isEmpty, let next = answer.syncToken else { throw changesFound(changed.count) }
            return BusyChanges(upserts: [], removedEventIDs: [], cursor: SyncCursor("sync:\(next)"))
        }
        if cursor.value.hasPrefix("ctag:") {
            let now = try await collectionCursor(calendar, credentials)
            guard let now, now == cursor else { throw changesFound(nil) }
            return BusyChanges(upserts: [], removedEventIDs: [], cursor: now)
        }
        throw changesFound(nil)
    }

    func changesFound(_ count: Int?) -> ProviderError {
        ProviderError(
            code: .fullResyncRequired, kind: .fullResyncRequired, httpStatus: nil,
            message: "The CalDAV calendar changed\(count.map { " (\($0) object(s))" } ?? ""); the window is read again.")
    }

    /// The collection's change cursor: `sync:<sync-token>`, else `ctag:<getctag>`, else nil.
    func collectionCursor(_ calendar: URL, _ credentials: ProviderCredentials) async throws -> SyncCursor? {
        let (answer, _) = try await propfind(calendar, depth: 0, [.d("sync-token"), .calendarServerCTag], credentials, follow: true)
        guard let response = answer.responses.first else { return nil }
        if let token = response[.d("sync-token")]?.text, !token.isEmpty { return SyncCursor("sync:\(token)") }
        if let ctag = response[.calendarServerCTag]?.text, !ctag.isEmpty { return SyncCursor("ctag:\(ctag)") }
        return nil
    }

    /// Fetches the objects in `calendar-multiget` batches, up to the connection's concurrency cap at once, in order.
    func fetchAll(_ calendar: URL, _ hrefs: [String], _ credentials: ProviderCredentials) async throws -> [FetchedObject] {
        let size = max(1, configuration.multigetBatch)
        let batches = stride(from: 0, to: hrefs.count, by: size).map { Array(hrefs[$0..<min(hrefs.count, $0 + size)]) }
        let parallel = max(1, configuration.connectionConcurrency)
        var results = [[FetchedObject]](repeating: [], count: batches.count)
        try await withThrowingTaskGroup(of: (Int, [FetchedObject]).self) { group in
            var next = 0
            for _ in 0..<min(parallel, batches.count) {
                let index = next
                group.addTask { (index, try await multiget(calendar, batches[index], credentials)) }
                next += 1
            }
            while let (index, objects) = try await group.next() {
                results[index] = objects
                if next < batches.count {
                    let index = next
                    group.addTask { (index, try await multiget(calendar, batches[index], credentials)) }
                    next += 1
                }
            }
        }
        return results.flatMap { $0 }
    }

    /// One object of a multiget answer.
    struct FetchedObject: Sendable {
        var href: String
        var etag: String?
        var data: String?
    }

    /// `calendar-multiget` of a batch; an answer too large for one request is fetched object by object, and an
    /// object too large by itself is skipped (no data).
    func multiget(_ calendar: URL, _ hrefs: [String], _ credentials: ProviderCredentials) async throws -> [FetchedObject] {
        let result: HTTPResult
        do {
            (result, _) = try await sendFollowing(.REPORT, calendar, credentials, headers: [("Depth", "1")], body: DAVRequests.multiget(hrefs))
        } catch let error as ProviderError where error.code == .responseTooLarge {
            guard hrefs.count > 1 else { return [FetchedObject(href: hrefs[0], etag: nil, data: nil)] }
            var all: [FetchedObject] = []
            for href in hrefs { all += try await multiget(calendar, [href], credentials) }
            return all
        }
        guard result.status == 207 else { throw classify(result) }
        return try multistatus(result).responses.compactMap { response in
            guard response.status == nil || response.status == 200 else { return nil }
            return FetchedObject(href: response.href, etag: response[.d("getetag")]?.text, data: response[.c("calendar-data")]?.text)
        }
    }
}

extension DAVName {
    /// `getctag` of calendarserver.org.
    static let calendarServerCTag = DAVName(namespace: DAVName.calendarServer, local: "getctag")
}
