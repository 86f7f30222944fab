import Foundation

/// Microsoft Graph: event resources (validation, storage form, neutral view).
enum GraphAPI {
    static let writableFields: Set<String> = [
        "subject", "body", "start", "end", "isAllDay", "showAs", "sensitivity", "location", "locations", "categories",
        "importance", "isReminderOn", "reminderMinutesBeforeStart", "attendees", "recurrence", "hideAttendees",
        "allowNewTimeProposals", "isOnlineMeeting", "responseRequested",
    ]
    /// Fields only the sandbox itself (seeding, member edits) may set.
    static let internalFields: Set<String> = ["isCancelled", "responseStatus", "originalStartTimeZone"]
    static let showAsValues: Set<String> = ["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"]
    static let sensitivities: Set<String> = ["normal", "personal", "private", "confidential"]
    static let responses: Set<String> = [
        "none", "organizer", "tentativelyAccepted", "accepted", "declined", "notResponded",
    ]
    /// Windows zone names Graph accepts, mapped to IANA.
    static let windowsZones: [String: String] = [
        "UTC": "UTC", "GMT Standard Time": "Europe/London", "W. Europe Standard Time": "Europe/Berlin",
        "Central European Standard Time": "Europe/Warsaw", "Romance Standard Time": "Europe/Paris",
        "Eastern Standard Time": "America/New_York", "Central Standard Time": "America/Chicago",
        "Mountain Standard Time": "America/Denver", "Pacific Standard Time": "America/Los_Angeles",
        "Tokyo Standard Time": "Asia/Tokyo", "AUS Eastern Standard Time": "Australia/Sydney",
    ]

    static func newID() -> String { "AAMkAGI2" + SandboxRandom.token(56) }

    /// The IANA zone for a Graph `timeZone` value, or nil when Graph would refuse it.
    static func zone(_ name: String) -> String? {
        if let mapped = windowsZones[name] { return mapped }
        return TimeZone(identifier: name) != nil ? name : nil
    }

    /// The JSON the sandbox uses for a neutral event.
    static func input(from e: SandboxEvent) -> [String: JSONValue] {
        var r: [String: JSONValue] = ["subject": .string(e.summary)]
        if let s = e.allDayStart, let en = e.allDayEnd {
            let zone = e.timeZone ?? "UTC"
            r["start"] = ["dateTime": .string(s + "T00:00:00.0000000"), "timeZone": .string(zone)]
            r["end"] = ["dateTime": .string(en + "T00:00:00.0000000"), "timeZone": .string(zone)]
            r["isAllDay"] = true
        } else {
            r["start"] = ["dateTime": .string(SandboxTime.formatGraph(e.start.timeIntervalSince1970)), "timeZone": "UTC"]
            r["end"] = ["dateTime": .string(SandboxTime.formatGraph(e.end.timeIntervalSince1970)), "timeZone": "UTC"]
            r["isAllDay"] = false
            if let tz = e.timeZone { r["originalStartTimeZone"] = .string(tz) }
        }
        r["showAs"] = .string(e.showAs ?? (e.free ? "free" : "busy"))
        r["isCancelled"] = .bool(e.cancelled)
        r["responseStatus"] = ["response": .string(e.declinedBySelf ? "declined" : "organizer")]
        r["singleValueExtendedProperties"] = .array(
            e.privateProperties.keys.sorted().map { ["id": .string($0), "value": .string(e.privateProperties[$0] ?? "")] })
        return r
    }

    /// The neutral view of a stored Graph event.
    static func neutral(_ stored: StoredEvent) -> SandboxEvent {
        let r = stored.resource
        var e = SandboxEvent(
            summary: r["subject"]?.stringValue ?? "",
            start: Date(timeIntervalSince1970: stored.startInstant), end: Date(timeIntervalSince1970: stored.endInstant))
        e.id = stored.id
        let zone = r["originalStartTimeZone"]?.stringValue
        if r["isAllDay"]?.boolValue == true {
            let ianaZone = zone.flatMap { self.zone($0) }
            let s = stored.startInstant + Double(SandboxTime.offset(of: ianaZone, at: stored.startInstant))
            let en = stored.endInstant + Double(SandboxTime.offset(of: ianaZone, at: stored.endInstant))
            e.allDayStart = SandboxTime.formatDate(days: Int((s / 86400).rounded(.down)))
            e.allDayEnd = SandboxTime.formatDate(days: Int((en / 86400).rounded(.down)))
        }
        e.timeZone = zone == "UTC" ? nil : zone
        let showAs = r["showAs"]?.stringValue ?? "busy"
        e.showAs = showAs
        e.free = showAs == "free" || showAs == "workingElsewhere"
        e.cancelled = r["isCancelled"]?.boolValue ?? false
        e.declinedBySelf = r["responseStatus"]?["response"]?.stringValue == "declined"
        e.privateProperties = stored.extendedProperties
        return e
    }

    /// Parses a Graph `dateTimeTimeZone`: no offset inside `dateTime`, a known `timeZone`.
    static func parseTime(_ value: JSONValue?, which: String) -> Result<(instant: Double, wall: Double, zone: String), SandboxAPIError> {
        guard let obj = value?.objectValue, let text = obj["dateTime"]?.stringValue else {
            return .failure(SandboxAPIError(400, "ErrorInvalidRequest", "Your request can't be completed. The \(which) property is required and must carry dateTime."))
        }
        guard let parsed = SandboxTime.parseDateTime(text) else {
            return .failure(SandboxAPIError(400, "ErrorInvalidRequest", "Cannot convert the literal '\(text)' to the expected type 'Edm.DateTime'."))
        }
        if parsed.offset != nil {
            return .failure(SandboxAPIError(400, "ErrorInvalidRequest", "The \(which).dateTime '\(text)' carries a time zone offset; put the zone in \(which).timeZone instead."))
        }
        guard let zoneName = obj["timeZone"]?.stringValue else {
            return .failure(SandboxAPIError(400, "ErrorInvalidRequest", "The \(which).timeZone property is required."))
        }
        guard let iana = zone(zoneName) else {
            return .failure(SandboxAPIError(400, "ErrorTimeZoneNotSupportedException", "A valid TimeZone value must be specified. The following TimeZone value is not supported: '\(zoneName)'."))
        }
        return .success((SandboxTime.instant(wall: parsed.wallSeconds, zone: iana), parsed.wallSeconds, zoneName))
    }

    /// Validates and builds the stored form of a create (`existing` nil) or PATCH.
    static func write(
        state: inout SandboxState, account: AccountState, calendar: CalendarState, existing: StoredEvent?, id: String,
        input: [String: JSONValue], replace: Bool, internalWrite: Bool = true
    ) -> Result<StoredEvent, SandboxAPIError> {
        var r: [String: JSONValue] = existing.map { replace ? [:] : $0.resource } ?? [:]
        for (k, v) in input where writableFields.contains(k) || (internalWrite && internalFields.contains(k)) {
            if v == .null { r.removeValue(forKey: k) } else { r[k] = v }
        }
        guard r["start"] != nil, r["end"] != nil else {
            return .failure(SandboxAPIError(400, "ErrorInvalidRequest", "Your request can't be completed. An event needs a start and an end."))
        }
        let start: (instant: Double, wall: Double, zone: String)
        let end: (instant: Double, wall: Double, zone: String)
        switch parseTime(r["start"], which: "start") {
        case .success(let t): start = t
        case .failure(let e): return .failure(e)
        }
        switch parseTime(r["end"], which: "end") {
        case .success(let t): end = t
        case .failure(let e): return .failure(e)
        }
        if end.instant < start.instant {
            return .failure(SandboxAPIError(400, "ErrorInvalidRequest", "The event's end time must not be before its start time."))
        }
        let isAllDay = r["isAllDay"]?.boolValue ?? false
        if let v = r["isAllDay"], v.boolValue == nil {
            return .failure(SandboxAPIError(400, "BadRequest", "Invalid value for property 'isAllDay'."))
        }
        if isAllDay {
            let midnight = start.wall.truncatingRemainder(dividingBy: 86400) == 0 && end.wall.truncatingRemainder(dividingBy: 86400) == 0
            guard midnight, end.wall > start.wall else {
                return .failure(SandboxAPIError(400, "ErrorPropertyValidationFailure", "At least one property failed validation: an all-day event's start and end must be at midnight."))
            }
        }
        for (field, allowed) in [("showAs", showAsValues), ("sensitivity", sensitivities)] {
            if let v = r[field] {
                guard let s = v.stringValue, allowed.contains(s) else {
                    return .failure(SandboxAPIError(400, "BadRequest", "Requested value '\(r[field]?.stringValue ?? "")' was not found for property '\(field)'."))
                }
            }
        }
        if let v = r["subject"], v.stringValue == nil {
            return .failure(SandboxAPIError(400, "BadRequest", "Invalid value for property 'subject'."))
        }
        if let v = r["body"] {
            guard let o = v.objectValue, o["content"]?.stringValue != nil || o["content"] == nil,
                ["text", "html", nil].contains(o["contentType"]?.stringValue)
            else {
                return .failure(SandboxAPIError(400, "BadRequest", "Invalid value for property 'body'."))
            }
        }
        if let v = r["location"], v.objectValue == nil {
            return .failure(SandboxAPIError(400, "BadRequest", "Invalid value for property 'location'."))
        }
        if let v = r["responseStatus"], !responses.contains(v["response"]?.stringValue ?? "") {
            return .failure(SandboxAPIError(400, "BadRequest", "Invalid value for property 'responseStatus'."))
        }
        var ext = existing?.extendedProperties ?? [:]
        if let props = input["singleValueExtendedProperties"] {
            guard let list = props.arrayValue else {
                return .failure(SandboxAPIError(400, "BadRequest", "Invalid value for property 'singleValueExtendedProperties'."))
            }
            if replace || existing == nil { ext = [:] }
            for p in list {
                guard let pid = p["id"]?.stringValue, let value = p["value"]?.stringValue,
                    pid.hasPrefix("String {"), pid.contains("} Name ")
                else {
                    return .failure(SandboxAPIError(400, "ErrorInvalidExtendedPropertyValue", "The extended property id must look like 'String {guid} Name name' and carry a string value."))
                }
                ext[pid] = value
            }
        }
        // Server-owned fields.
        let now = Sandbox.now
        let changeKey = SandboxRandom.token(20)
        r["id"] = .string(id)
        r["changeKey"] = .string(changeKey)
        r["@odata.etag"] = .string("W/\"\(changeKey)\"")
        r["createdDateTime"] = existing?.resource["createdDateTime"] ?? .string(SandboxTime.formatWall(now) + ".0000000Z")
        r["lastModifiedDateTime"] = .string(SandboxTime.formatWall(now) + ".0000000Z")
        r["originalStartTimeZone"] = r["originalStartTimeZone"] ?? .string(start.zone)
        r["originalEndTimeZone"] = .string(end.zone)
        r["iCalUId"] = existing?.resource["iCalUId"] ?? .string("040000008200E00074C5B7101A82E008" + SandboxRandom.string(32, alphabet: Array("0123456789ABCDEF".utf8)))
        r["type"] = "singleInstance"
        r["isOrganizer"] = true
        r["webLink"] = .string("https://outlook.office365.com/owa/?itemid=\(id)&exvsurl=1&path=/calendar/item")
        r["organizer"] = ["emailAddress": ["name": .string(account.email), "address": .string(account.email)]]
        if r["isAllDay"] == nil { r["isAllDay"] = false }
        if r["isCancelled"] == nil { r["isCancelled"] = false }
        if r["showAs"] == nil { r["showAs"] = "busy" }
        if r["sensitivity"] == nil { r["sensitivity"] = "normal" }
        if r["importance"] == nil { r["importance"] = "normal" }
        if r["responseStatus"] == nil { r["responseStatus"] = ["response": "organizer", "time": "0001-01-01T00:00:00Z"] }
        if r["body"] == nil { r["body"] = ["contentType": "html", "content": ""] }
        if r["location"] == nil { r["location"] = ["displayName": "", "locationType": "default"] }
        if r["categories"] == nil { r["categories"] = [] }
        if r["attendees"] == nil { r["attendees"] = [] }
        if existing == nil, let tx = input["transactionId"]?.stringValue { r["transactionId"] = .string(tx) }
        if r["transactionId"] == nil { r["transactionId"] = .null }
        r["start"] = ["dateTime": .string(SandboxTime.formatGraph(start.instant)), "timeZone": "UTC"]
        r["end"] = ["dateTime": .string(SandboxTime.formatGraph(end.instant)), "timeZone": "UTC"]
        return .success(
            StoredEvent(
                id: id, resource: r, startInstant: start.instant, endInstant: end.instant, deleted: false,
                etag: changeKey, changeSeq: calendar.nextSeq(), ordinal: existing?.ordinal ?? -1,
                extendedProperties: ext))
    }

    /// The resource as returned to a client, rendered in the preferred zone, with the requested extended properties.
    static func render(_ e: StoredEvent, zone preferred: String?, expandProperty: ExpandFilter?) -> JSONValue {
        var r = e.resource
        if let preferred, preferred != "UTC", let iana = zone(preferred) {
            for (key, instant) in [("start", e.startInstant), ("end", e.endInstant)] {
                let wall = instant + Double(SandboxTime.offset(of: iana, at: instant))
                r[key] = ["dateTime": .string(SandboxTime.formatWall(wall) + ".0000000"), "timeZone": .string(preferred)]
            }
        }
        if r["isAllDay"]?.boolValue == true {
            // All-day events are floating: midnight in whatever zone is asked for.
            let origin = (r["originalStartTimeZone"]?.stringValue).flatMap { zone($0) }
            let label = preferred ?? "UTC"
            for (key, instant) in [("start", e.startInstant), ("end", e.endInstant)] {
                let wall = instant + Double(SandboxTime.offset(of: origin, at: instant))
                r[key] = ["dateTime": .string(SandboxTime.formatWall(wall) + ".0000000"), "timeZone": .string(label)]
            }
        }
        if let expandProperty {
            let matching = e.extendedProperties.keys.sorted().filter { expandProperty.matches($0) }
            if !matching.isEmpty {
                r["singleValueExtendedProperties"] = .array(
                    matching.map { ["id": .string($0), "value": .string(e.extendedProperties[$0] ?? "")] })
            }
        }
        return .object(r)
    }

    /// Busy by Graph's rules (free and workingElsewhere are free; cancelled and declined are not busy).
    static func isBusy(_ e: StoredEvent) -> Bool {
        let r = e.resource
        if e.deleted || r["isCancelled"]?.boolValue == true { return false }
        let showAs = r["showAs"]?.stringValue ?? "busy"
        if showAs == "free" || showAs == "workingElsewhere" { return false }
        return r["responseStatus"]?["response"]?.stringValue != "declined"
    }
}

/// `$expand=singleValueExtendedProperties($filter=id eq '…')`: which properties to return.
struct ExpandFilter: Sendable {
    /// nil: all properties.
    var id: String?

    func matches(_ propertyID: String) -> Bool {
        guard let id else { return true }
        return id.caseInsensitiveCompare(propertyID) == .orderedSame
    }
}
