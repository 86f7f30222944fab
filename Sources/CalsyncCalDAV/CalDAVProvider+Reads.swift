import CalsyncHTTP
import CalsyncJobs
import CalsyncSync
import Foundation
import Logging

extension CalDAVCalendarProvider {
    /// Reads the busy events of a window: one `calendar-query` with a time range answering the `calendar-data` of
    /// every object that overlaps it, expanded by calsync (CalsyncICal) in each event's own time zone. An answer the
    /// server refuses or cuts short as too large splits the window in halves (twice at most); an answer over calsync's
    /// response limit, or a slice refused after the last split, is read as hrefs, then `calendar-multiget` batches.
    /// The cursor is the collection's `sync-token` (RFC 6578), read before any query, or its `getctag` when the server
    /// has no sync-collection.
    package func readBusy(
        calendarID: String, window: DateInterval, memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> BusySnapshot {
        let calendar = try url(calendarID)
        let cursor = try await collectionCursor(calendar, credentials)
        var read = WindowRead(
            calendar: calendar, calendarID: calendarID,
            context: CalDAVICalendar.ReadContext(
                window: window, memberTimeZone: memberTimeZone, memberAddresses: credentials.accountEmail.map { [$0] } ?? []))
        try await readSlice(calendar, window, splits: Self.maxWindowSplits, credentials, into: &read)
        if read.unreadable > 0 {
            logger.warning(
                "skipped CalDAV objects that are not readable iCalendar (or too large)", metadata: [LogKey.skipped: "\(read.unreadable)"])
        }
        var snapshot = BusySnapshot(events: read.busy.events, cursor: cursor)
        snapshot.ownEvents = read.own.events
        return snapshot
    }

    /// How many times a window read halves a slice the server refused as too large (Radicale refuses an answer with
    /// more than 10,000 events: two splits read up to about 40,000).
    static let maxWindowSplits = 2

    /// Reads the objects overlapping `slice` into `read` (see ``readBusy(calendarID:window:memberTimeZone:credentials:)``).
    func readSlice(
        _ calendar: URL, _ slice: DateInterval, splits: Int, _ credentials: ProviderCredentials, into read: inout WindowRead
    ) async throws {
        switch try await queryWithData(calendar, slice, credentials) {
        case .objects(let objects):
            await read.add(objects)
        case .refused where splits > 0:
            logger.debug("the CalDAV server refused one answer with every object's data; reading the window in halves")
            let middle = slice.start.addingTimeInterval(slice.duration / 2)
            try await readSlice(calendar, DateInterval(start: slice.start, end: middle), splits: splits - 1, credentials, into: &read)
            try await readSlice(calendar, DateInterval(start: middle, end: slice.end), splits: splits - 1, credentials, into: &read)
        case .refused, .tooLarge:
            logger.debug("a CalDAV answer with every object's data is too large; reading by hrefs and multiget batches")
            try await readByHrefs(calendar, slice, credentials, into: &read)
        }
    }

    /// Reads a slice as hrefs (a `calendar-query` answering ETags), then the data of those not read yet in
    /// `calendar-multiget` batches, up to the connection's concurrency cap at once; each round of batches is expanded
    /// before the next is fetched, so no more than one round's answers are held.
    func readByHrefs(_ calendar: URL, _ slice: DateInterval, _ credentials: ProviderCredentials, into read: inout WindowRead) async throws {
        let hrefs = try await report(calendar, DAVRequests.calendarQuery(slice, data: false), credentials).map(\.href)
            .filter { !read.seen.contains($0) }
        let round = max(1, configuration.multigetBatch) * max(1, configuration.connectionConcurrency)
        for start in stride(from: 0, to: hrefs.count, by: round) {
            await read.add(try await fetchAll(calendar, Array(hrefs[start..<min(hrefs.count, start + round)]), credentials))
        }
    }

    /// What a `calendar-query` for every object's data gave.
    enum DataAnswer {
        /// The objects, with their data.
        case objects([FetchedObject])
        /// Refused as too large by the server (HTTP 400, 413 or 507; Radicale answers 400 past 10,000 events in one
        /// answer), or cut short by it (a 507 for the collection itself inside the answer, as RFC 6578 §3.6 marks a
        /// truncated result).
        case refused
        /// Larger than calsync's response limit.
        case tooLarge
    }

    /// The objects overlapping `slice` with their data, in one `calendar-query`.
    func queryWithData(_ calendar: URL, _ slice: DateInterval, _ credentials: ProviderCredentials) async throws -> DataAnswer {
        let result: HTTPResult
        do {
            (result, _) = try await sendFollowing(
                .REPORT, calendar, credentials, headers: [("Depth", "1")], body: DAVRequests.calendarQuery(slice, data: true))
        } catch let error as ProviderError where error.code == .responseTooLarge {
            return .tooLarge
        }
        if [400, 413, 507].contains(result.status) { return .refused }
        guard result.status == 207 else { throw classify(result) }
        let answer = try multistatus(result)
        return Self.truncated(answer, calendar) ? .refused : .objects(Self.objects(of: answer, calendar))
    }

    /// A `REPORT` (Depth 1) on the calendar; the objects it answers with status 200. An answer the server says it
    /// cut short is an error: a partial list would drop busy time.
    func report(_ calendar: URL, _ body: String, _ credentials: ProviderCredentials) async throws -> [FetchedObject] {
        let (result, _) = try await sendFollowing(.REPORT, calendar, credentials, headers: [("Depth", "1")], body: body)
        guard result.status == 207 else { throw classify(result) }
        let answer = try multistatus(result)
        guard !Self.truncated(answer, calendar) else {
            throw ProviderError.retryable(
                .responseTooLarge, status: 507, "The CalDAV server cut its list of the calendar's events short (HTTP 507); retrying later.")
        }
        return Self.objects(of: answer, calendar)
    }

    /// The objects of a multistatus answer with status 200 (the collection itself left out).
    static func objects(of answer: DAVMultistatus, _ calendar: URL) -> [FetchedObject] {
        answer.responses.compactMap { response -> FetchedObject? in
            guard response.status == nil || response.status == 200,
                let url = resolve(response.href, against: calendar), !CalDAVDiscovery.sameCollection(url, calendar)
            else { return nil }
            return FetchedObject(href: response.href, etag: response[.d("getetag")]?.text, data: response[.c("calendar-data")]?.text)
        }
    }

    /// Whether the answer says it is incomplete: a response for the collection itself with status 507.
    static func truncated(_ answer: DAVMultistatus, _ calendar: URL) -> Bool {
        answer.responses.contains { response in
            response.status == 507 && resolve(response.href, against: calendar).map { CalDAVDiscovery.sameCollection($0, calendar) } == true
        }
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
            let now = try await collectionProperty(calendar, .calendarServerCTag, credentials).map { SyncCursor("ctag:\($0)") }
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

    /// The collection's change cursor: `sync:<sync-token>`, else `ctag:<getctag>`, else nil. Each is asked for by
    /// itself: a server may compute each over every object (Radicale does), and most servers have a sync-token.
    func collectionCursor(_ calendar: URL, _ credentials: ProviderCredentials) async throws -> SyncCursor? {
        if let token = try await collectionProperty(calendar, .d("sync-token"), credentials) { return SyncCursor("sync:\(token)") }
        return try await collectionProperty(calendar, .calendarServerCTag, credentials).map { SyncCursor("ctag:\($0)") }
    }

    /// One property of the collection (`PROPFIND`, Depth 0); nil when the server has none or an empty one.
    func collectionProperty(_ calendar: URL, _ name: DAVName, _ credentials: ProviderCredentials) async throws -> String? {
        let (answer, _) = try await propfind(calendar, depth: 0, [name], credentials, follow: true)
        guard let text = answer.responses.first?[name]?.text, !text.isEmpty else { return nil }
        return text
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
