import Foundation

/// Google Calendar v3: event resources (validation, storage form, neutral view).
enum GoogleAPI {
    static let writableFields: Set<String> = [
        "summary", "description", "location", "start", "end", "status", "transparency", "visibility", "attendees",
        "extendedProperties", "eventType", "colorId", "reminders", "recurrence", "source", "guestsCanInviteOthers",
        "guestsCanModify", "guestsCanSeeOtherGuests", "anyoneCanAddSelf", "sequence", "attachments",
        "outOfOfficeProperties", "focusTimeProperties", "workingLocationProperties", "originalStartTime",
    ]
    static let statuses: Set<String> = ["confirmed", "tentative", "cancelled"]
    static let transparencies: Set<String> = ["opaque", "transparent"]
    static let visibilities: Set<String> = ["default", "public", "private", "confidential"]
    static let eventTypes: Set<String> = [
        "default", "outOfOffice", "focusTime", "workingLocation", "birthday", "fromGmail",
    ]

    static func newEventID() -> String { SandboxRandom.string(26, alphabet: SandboxRandom.base32hex) }

    static func etag(_ n: Int) -> String { "\"\(3_500_000_000_000_000 + n * 1000)\"" }

    /// Whether a client-chosen id is valid: base32hex `[a-v0-9]`, 5–1024 characters.
    static func isValidID(_ id: String) -> Bool {
        let u = id.utf8
        guard u.count >= 5, u.count <= 1024 else { return false }
        return u.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 118) }
    }

    /// The JSON a client would send for a neutral event (merging attendees with an existing resource).
    static func input(from e: SandboxEvent, account: AccountState, existing: StoredEvent? = nil) -> [String: JSONValue] {
        var r: [String: JSONValue] = ["summary": .string(e.summary)]
        if let s = e.allDayStart, let en = e.allDayEnd {
            r["start"] = ["date": .string(s)]
            r["end"] = ["date": .string(en)]
        } else {
            var start: [String: JSONValue] = ["dateTime": .string(SandboxTime.formatUTC(e.start.timeIntervalSince1970))]
            var end: [String: JSONValue] = ["dateTime": .string(SandboxTime.formatUTC(e.end.timeIntervalSince1970))]
            if let tz = e.timeZone {
                start["timeZone"] = .string(tz)
                end["timeZone"] = .string(tz)
            }
            r["start"] = .object(start)
            r["end"] = .object(end)
        }
        r["transparency"] = .string(e.free ? "transparent" : "opaque")
        r["status"] = .string(e.cancelled ? "cancelled" : "confirmed")
        r["eventType"] = .string(e.eventType ?? "default")
        var privateProps: [String: JSONValue] = [:]
        for (k, v) in e.privateProperties { privateProps[k] = .string(v) }
        if !privateProps.isEmpty || existing?.resource["extendedProperties"]?["private"] != nil {
            r["extendedProperties"] = ["private": .object(privateProps)]
        }
        var attendees = existing?.resource["attendees"]?.arrayValue ?? []
        var foundSelf = false
        for i in attendees.indices {
            guard var a = attendees[i].objectValue, a["email"]?.stringValue?.lowercased() == account.email else { continue }
            foundSelf = true
            a["responseStatus"] = .string(e.declinedBySelf ? "declined" : "accepted")
            attendees[i] = .object(a)
        }
        if !foundSelf, e.declinedBySelf {
            attendees.append(["email": .string(account.email), "responseStatus": "declined"])
        }
        if !attendees.isEmpty { r["attendees"] = .array(attendees) }
        return r
    }

    /// The neutral view of a stored Google event.
    static func neutral(_ stored: StoredEvent, account: AccountState) -> SandboxEvent {
        let r = stored.resource
        var e = SandboxEvent(
            summary: r["summary"]?.stringValue ?? "",
            start: Date(timeIntervalSince1970: stored.startInstant), end: Date(timeIntervalSince1970: stored.endInstant))
        e.id = stored.id
        e.allDayStart = r["start"]?["date"]?.stringValue
        e.allDayEnd = r["end"]?["date"]?.stringValue
        e.timeZone = r["start"]?["timeZone"]?.stringValue
        e.free = r["transparency"]?.stringValue == "transparent"
        e.cancelled = r["status"]?.stringValue == "cancelled"
        e.declinedBySelf = (r["attendees"]?.arrayValue ?? []).contains {
            $0["self"]?.boolValue == true && $0["responseStatus"]?.stringValue == "declined"
        }
        let type = r["eventType"]?.stringValue
        e.eventType = type == "default" ? nil : type
        for (k, v) in r["extendedProperties"]?["private"]?.objectValue ?? [:] {
            if let s = v.stringValue { e.privateProperties[k] = s }
        }
        return e
    }

    /// Recursive merge of a PATCH body: objects merge, arrays and scalars replace, null removes.
    static func merge(_ patch: [String: JSONValue], into target: inout [String: JSONValue], topLevel: Bool) {
        for (k, v) in patch {
            if topLevel, !writableFields.contains(k) { continue }
            if v == .null {
                target.removeValue(forKey: k)
            } else if topLevel, k == "start" || k == "end" {
                target[k] = v
            } else if case .object(let po) = v, case .object(var to)? = target[k] {
                merge(po, into: &to, topLevel: false)
                target[k] = .object(to)
            } else {
                target[k] = v
            }
        }
    }

    struct ParsedTime {
        var instant: Double
        var days: Int?
        var rendered: JSONValue
    }

    static func parseTime(_ value: JSONValue?, which: String, account: AccountState) -> Result<ParsedTime, SandboxAPIError> {
        guard let obj = value?.objectValue, obj["date"] != nil || obj["dateTime"] != nil else {
            return .failure(SandboxAPIError(400, "required", "Missing \(which) time."))
        }
        if obj["date"] != nil, obj["dateTime"] != nil, obj["date"] != .null, obj["dateTime"] != .null {
            return .failure(SandboxAPIError(400, "invalid", "Invalid \(which) time: both date and dateTime are set."))
        }
        let zone = obj["timeZone"]?.stringValue
        if let zone, zone != "UTC", TimeZone(identifier: zone) == nil {
            return .failure(SandboxAPIError(400, "timeZoneInvalid", "Invalid time zone definition for \(which) time."))
        }
        if let dateText = obj["date"]?.stringValue {
            guard let days = SandboxTime.parseDate(dateText) else {
                return .failure(SandboxAPIError(400, "invalid", "Invalid value for: \(which).date"))
            }
            var rendered: [String: JSONValue] = ["date": .string(dateText)]
            if let zone { rendered["timeZone"] = .string(zone) }
            let instant = SandboxTime.instant(wall: Double(days * 86400), zone: account.timeZone)
            return .success(ParsedTime(instant: instant, days: days, rendered: .object(rendered)))
        }
        guard let text = obj["dateTime"]?.stringValue, let parsed = SandboxTime.parseDateTime(text) else {
            return .failure(SandboxAPIError(400, "invalid", "Invalid value for: \(which).dateTime"))
        }
        let instant: Double
        if let i = parsed.instant {
            instant = i
        } else if let zone {
            instant = SandboxTime.instant(wall: parsed.wallSeconds, zone: zone)
        } else {
            return .failure(SandboxAPIError(400, "required", "Missing time zone definition for \(which) time."))
        }
        let renderZone = zone ?? account.timeZone
        var rendered: [String: JSONValue] = [
            "dateTime": .string(SandboxTime.formatWithOffset(instant, offset: SandboxTime.offset(of: renderZone, at: instant)))
        ]
        if let zone { rendered["timeZone"] = .string(zone) }
        return .success(ParsedTime(instant: instant, days: nil, rendered: .object(rendered)))
    }

    /// Validates and builds the stored form of a create (`existing` nil), PATCH or PUT (`replace`).
    static func write(
        state: inout SandboxState, account: AccountState, calendar: CalendarState, existing: StoredEvent?, id: String,
        input: [String: JSONValue], replace: Bool
    ) -> Result<StoredEvent, SandboxAPIError> {
        var r: [String: JSONValue]
        if let existing, !replace {
            r = existing.resource
            merge(input, into: &r, topLevel: true)
        } else {
            r = [:]
            for (k, v) in input where writableFields.contains(k) && v != .null { r[k] = v }
        }
        let start: ParsedTime
        let end: ParsedTime
        switch parseTime(r["start"], which: "start", account: account) {
        case .success(let t): start = t
        case .failure(let e): return .failure(e)
        }
        switch parseTime(r["end"], which: "end", account: account) {
        case .success(let t): end = t
        case .failure(let e): return .failure(e)
        }
        if (start.days == nil) != (end.days == nil) {
            return .failure(
                SandboxAPIError(400, "invalid", "Start and end times must either both be date or both be dateTime."))
        }
        if end.instant <= start.instant {
            return .failure(SandboxAPIError(400, "timeRangeEmpty", "The specified time range is empty."))
        }
        for (field, allowed) in [("status", statuses), ("transparency", transparencies), ("visibility", visibilities),
                                 ("eventType", eventTypes)] {
            if let v = r[field] {
                guard let s = v.stringValue, allowed.contains(s) else {
                    return .failure(SandboxAPIError(400, "invalid", "Invalid value for: \(field)"))
                }
            }
        }
        for field in ["summary", "description", "location"] {
            if let v = r[field], v.stringValue == nil {
                return .failure(SandboxAPIError(400, "invalid", "Invalid value for: \(field)"))
            }
        }
        if let ext = r["extendedProperties"] {
            guard let o = ext.objectValue else {
                return .failure(SandboxAPIError(400, "invalid", "Invalid value for: extendedProperties"))
            }
            for scope in ["private", "shared"] {
                guard let props = o[scope] else { continue }
                guard let po = props.objectValue, po.values.allSatisfy({ $0.stringValue != nil }) else {
                    return .failure(SandboxAPIError(400, "invalid", "Invalid value for: extendedProperties.\(scope)"))
                }
            }
        }
        if let attendees = r["attendees"] {
            guard var list = attendees.arrayValue else {
                return .failure(SandboxAPIError(400, "invalid", "Invalid value for: attendees"))
            }
            for i in list.indices {
                guard var a = list[i].objectValue, let email = a["email"]?.stringValue, !email.isEmpty else {
                    return .failure(SandboxAPIError(400, "required", "Missing attendee email."))
                }
                if email.lowercased() == account.email {
                    a["self"] = true
                } else {
                    a.removeValue(forKey: "self")
                }
                if a["responseStatus"] == nil { a["responseStatus"] = "needsAction" }
                list[i] = .object(a)
            }
            r["attendees"] = .array(list)
        }
        r["start"] = start.rendered
        r["end"] = end.rendered
        let now = Sandbox.now
        let etag = etag(state.nextEtagNumber())
        r["kind"] = "calendar#event"
        r["id"] = .string(id)
        r["etag"] = .string(etag)
        r["created"] = existing?.resource["created"] ?? .string(SandboxTime.formatUTCMillis(now))
        r["updated"] = .string(SandboxTime.formatUTCMillis(now))
        r["htmlLink"] = .string("https://www.google.com/calendar/event?eid=\(id)")
        r["iCalUID"] = .string("\(id)@google.com")
        r["creator"] = ["email": .string(account.email), "self": true]
        r["organizer"] = ["email": .string(calendar.id), "self": true]
        if r["status"] == nil { r["status"] = "confirmed" }
        if r["eventType"] == nil { r["eventType"] = "default" }
        if r["reminders"] == nil { r["reminders"] = ["useDefault": true] }
        if r["transparency"]?.stringValue == "opaque" { r.removeValue(forKey: "transparency") }
        if let existing {
            let sequence = existing.resource["sequence"]?.doubleValue ?? 0
            r["sequence"] = .number(input["start"] != nil || input["end"] != nil ? sequence + 1 : sequence)
        } else if r["sequence"] == nil {
            r["sequence"] = 0
        }
        return .success(
            StoredEvent(
                id: id, resource: r, startInstant: start.instant, endInstant: end.instant,
                deleted: r["status"]?.stringValue == "cancelled", etag: etag, changeSeq: calendar.nextSeq(),
                ordinal: existing?.ordinal ?? -1, extendedProperties: [:]))
    }

    /// Whether an event counts as busy for freeBusy.
    static func isBusy(_ e: StoredEvent) -> Bool {
        let r = e.resource
        if e.deleted || r["transparency"]?.stringValue == "transparent" { return false }
        if r["eventType"]?.stringValue == "workingLocation" { return false }
        let declined = (r["attendees"]?.arrayValue ?? []).contains {
            $0["self"]?.boolValue == true && $0["responseStatus"]?.stringValue == "declined"
        }
        return !declined
    }
}
