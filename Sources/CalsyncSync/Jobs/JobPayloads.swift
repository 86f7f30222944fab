import CalsyncJobs
import Foundation

/// The calendar providers a member can connect.
package enum ProviderKind: String, Codable, Sendable, CaseIterable {
    case google, microsoft, caldav
}

/// `connect_calendar`: connect (or reconnect) a member's external calendar.
package struct ConnectCalendarPayload: JobPayload {
    package static let jobType = "connect_calendar"
    package let memberID: String
    package let actorMemberID: String
    package let provider: ProviderKind
    package let authorizationCode: SecretString?
    package let redirectURI: String?
    package let serverURL: String?
    package let username: String?
    package let password: SecretString?

    enum CodingKeys: String, CodingKey {
        case memberID = "member_id", actorMemberID = "actor_member_id", provider
        case authorizationCode = "authorization_code", redirectURI = "redirect_uri"
        case serverURL = "server_url", username, password
    }

    package func validate() throws(JobPayloadError) {
        try validateID(memberID, "member_id")
        try validateID(actorMemberID, "actor_member_id")
        switch provider {
        case .google, .microsoft:
            guard let code = authorizationCode, !code.value.isEmpty else {
                throw JobPayloadError("payload.authorization_code is required for \(provider.rawValue)")
            }
            guard let redirect = redirectURI, !redirect.isEmpty else {
                throw JobPayloadError("payload.redirect_uri is required for \(provider.rawValue)")
            }
        case .caldav:
            guard let url = serverURL, url.hasPrefix("https://") || url.hasPrefix("http://") else {
                throw JobPayloadError("payload.server_url (http or https URL) is required for caldav")
            }
            guard let user = username, !user.isEmpty else {
                throw JobPayloadError("payload.username is required for caldav")
            }
            guard let password, !password.value.isEmpty else {
                throw JobPayloadError("payload.password is required for caldav")
            }
        }
    }
}

/// `disconnect_calendar`: disconnect a member's calendar.
package struct DisconnectCalendarPayload: JobPayload {
    package static let jobType = "disconnect_calendar"
    package let memberID: String
    package let actorMemberID: String
    package let provider: ProviderKind

    enum CodingKeys: String, CodingKey {
        case memberID = "member_id", actorMemberID = "actor_member_id", provider
    }

    package func validate() throws(JobPayloadError) {
        try validateID(memberID, "member_id")
        try validateID(actorMemberID, "actor_member_id")
    }
}

/// `export_appointment`: bring the member's external calendar in line with this revision.
package struct ExportAppointmentPayload: JobPayload {
    package static let jobType = "export_appointment"
    package let memberID: String
    package let appointment: Appointment

    /// The appointment as the web tier describes it.
    package struct Appointment: Decodable, Sendable {
        package let id: String
        package let revision: Int64
        package let status: String
        package let countsAsBusy: Bool
        package let startsAt: RFC3339Instant
        package let endsAt: RFC3339Instant
        package let timeZone: String?
        package let serviceName: String?
        package let customerName: String?
        package let customerEmail: String?
        package let notes: String?
        package let location: String?
        /// The video meeting to attach (`google_meet`, `teams`, `none`; absent: none), contract §9.
        package let video: VideoKind?

        enum CodingKeys: String, CodingKey {
            case id, revision, status, countsAsBusy = "counts_as_busy", startsAt = "starts_at", endsAt = "ends_at"
            case timeZone = "time_zone", serviceName = "service_name", customerName = "customer_name"
            case customerEmail = "customer_email", notes, location, video
        }

        /// True when the appointment should not be in the calendar at all.
        package var removesEvent: Bool { status == "cancelled" || !countsAsBusy }
    }

    enum CodingKeys: String, CodingKey {
        case memberID = "member_id", appointment
    }

    package func validate() throws(JobPayloadError) {
        try validateID(memberID, "member_id")
        try validateID(appointment.id, "appointment.id")
        guard appointment.revision >= 0 else { throw JobPayloadError("payload.appointment.revision must be 0 or more") }
        guard !appointment.status.isEmpty else { throw JobPayloadError("payload.appointment.status must not be empty") }
        guard appointment.endsAt.date > appointment.startsAt.date else {
            throw JobPayloadError("payload.appointment.ends_at must be after starts_at")
        }
        if let zone = appointment.timeZone, TimeZone(identifier: zone) == nil {
            throw JobPayloadError("payload.appointment.time_zone must be an IANA time zone such as Europe/Berlin")
        }
    }
}

extension ExportAppointmentPayload {
    /// Reads an export payload with ``JSONScanner`` (`JSONDecoder` cost about 2.4 % of the worker's CPU per export;
    /// `make bench`). Only a payload whose every field is plainly what the decoder accepts is read here: anything
    /// else (a wrong type, a missing field, a repeated key, a number the decoder might read otherwise, text that is
    /// not clean UTF-8) returns `nil`, and the decoder reads it and names what is wrong, exactly as before.
    package static func decodeWellFormed(_ payload: [UInt8]) -> ExportAppointmentPayload? {
        guard let top = WellFormedObject(payload), let memberID = top.string("member_id"),
            let appointmentBytes = top.objectBytes("appointment"), let a = WellFormedObject(appointmentBytes),
            let id = a.string("id"), let revision = a.int64("revision"), let status = a.string("status"),
            let countsAsBusy = a.bool("counts_as_busy"),
            let startsAt = a.string("starts_at").flatMap { RFC3339Instant.parse($0) }.map { RFC3339Instant($0) },
            let endsAt = a.string("ends_at").flatMap { RFC3339Instant.parse($0) }.map { RFC3339Instant($0) },
            let timeZone = a.optionalString("time_zone"), let serviceName = a.optionalString("service_name"),
            let customerName = a.optionalString("customer_name"), let customerEmail = a.optionalString("customer_email"),
            let notes = a.optionalString("notes"), let location = a.optionalString("location"),
            let videoText = a.optionalString("video")
        else { return nil }
        var video: VideoKind?
        if let videoText {
            guard let kind = VideoKind(rawValue: videoText) else { return nil }
            video = kind
        }
        return ExportAppointmentPayload(
            memberID: memberID,
            appointment: Appointment(
                id: id, revision: revision, status: status, countsAsBusy: countsAsBusy, startsAt: startsAt, endsAt: endsAt,
                timeZone: timeZone, serviceName: serviceName, customerName: customerName, customerEmail: customerEmail,
                notes: notes, location: location, video: video))
    }
}

/// The members of one JSON object as ``JSONScanner`` finds them, read only where the reading is unambiguous.
private struct WellFormedObject {
    let bytes: [UInt8]
    var members: [String: JSONScanner.Member] = [:]

    /// Nil unless `bytes` is one valid JSON object without a repeated key.
    init?(_ bytes: [UInt8]) {
        self.bytes = bytes
        var scanner = JSONScanner(bytes)
        guard let (kind, list) = try? scanner.scanDocument(), kind == .object else { return nil }
        members.reserveCapacity(list.count)
        for member in list {
            guard members.updateValue(member, forKey: member.key) == nil else { return nil }
        }
    }

    /// A present string member (clean text only: a replacement character may hide a bad escape or bad UTF-8).
    func string(_ key: String) -> String? {
        guard let member = members[key], member.kind == .string,
            let text = JSONScanner.decodeString(bytes, member.range), !text.unicodeScalars.contains("\u{FFFD}")
        else { return nil }
        return text
    }

    /// An optional string member: `.some(nil)` when absent or null, `nil` when it is something else.
    func optionalString(_ key: String) -> String?? {
        guard let member = members[key], member.kind != .null else { return .some(nil) }
        return string(key).map { .some($0) }
    }

    /// A whole number written as plain digits that fits in 64 bits.
    func int64(_ key: String) -> Int64? {
        guard let member = members[key], member.kind == .number else { return nil }
        let digits = bytes[member.range]
        guard digits.allSatisfy({ ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "-") }) else { return nil }
        return Int64(String(decoding: digits, as: UTF8.self))
    }

    /// A `true` or `false` member.
    func bool(_ key: String) -> Bool? {
        guard let member = members[key], member.kind == .bool else { return nil }
        return bytes[member.range.lowerBound] == UInt8(ascii: "t")
    }

    /// The text of an object member.
    func objectBytes(_ key: String) -> [UInt8]? {
        guard let member = members[key], member.kind == .object else { return nil }
        return Array(bytes[member.range])
    }
}

/// `delete_external_event`: remove an appointment's event from a member's calendar.
package struct DeleteExternalEventPayload: JobPayload {
    package static let jobType = "delete_external_event"
    package let memberID: String
    package let appointmentID: String
    package let revision: Int64

    enum CodingKeys: String, CodingKey {
        case memberID = "member_id", appointmentID = "appointment_id", revision
    }

    package func validate() throws(JobPayloadError) {
        try validateID(memberID, "member_id")
        try validateID(appointmentID, "appointment_id")
        guard revision >= 0 else { throw JobPayloadError("payload.revision must be 0 or more") }
    }
}

/// `import_window`: make the member's busy blocks equal to the busy events over a window.
package struct ImportWindowPayload: JobPayload, Encodable {
    package static let jobType = "import_window"
    package let memberID: String
    package let provider: ProviderKind?
    package let windowStart: RFC3339Instant?
    package let windowEnd: RFC3339Instant?
    package let fullResync: Bool

    enum CodingKeys: String, CodingKey {
        case memberID = "member_id", provider, windowStart = "window_start", windowEnd = "window_end"
        case fullResync = "full_resync"
    }

    /// An import a producer enqueues (the scheduler, a connect's follow-up).
    package init(
        memberID: String, provider: ProviderKind?, windowStart: RFC3339Instant? = nil, windowEnd: RFC3339Instant? = nil,
        fullResync: Bool = false
    ) {
        self.memberID = memberID
        self.provider = provider
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.fullResync = fullResync
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        memberID = try c.decode(String.self, forKey: .memberID)
        provider = try c.decodeIfPresent(ProviderKind.self, forKey: .provider)
        windowStart = try c.decodeIfPresent(RFC3339Instant.self, forKey: .windowStart)
        windowEnd = try c.decodeIfPresent(RFC3339Instant.self, forKey: .windowEnd)
        fullResync = try c.decodeIfPresent(Bool.self, forKey: .fullResync) ?? false
    }

    /// Writes only what differs from the defaults (`full_resync` only when true).
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(memberID, forKey: .memberID)
        try c.encodeIfPresent(provider, forKey: .provider)
        try c.encodeIfPresent(windowStart, forKey: .windowStart)
        try c.encodeIfPresent(windowEnd, forKey: .windowEnd)
        if fullResync { try c.encode(true, forKey: .fullResync) }
    }

    /// The text `Job.jsonEncoder` writes for this payload, without the encoder when there is no window (the
    /// scheduler writes one per due connection).
    package var jsonText: String {
        get throws {
            guard windowStart == nil, windowEnd == nil else {
                return String(decoding: try Job.jsonEncoder.encode(self), as: UTF8.self)
            }
            var text = fullResync ? "{\"full_resync\":true,\"member_id\":" : "{\"member_id\":"
            text.reserveCapacity(text.utf8.count + memberID.utf8.count + 32)
            JSONText.appendQuoted(memberID, to: &text)
            if let provider {
                text.append(",\"provider\":")
                JSONText.appendQuoted(provider.rawValue, to: &text)
            }
            text.append("}")
            return text
        }
    }

    package func validate() throws(JobPayloadError) {
        try validateID(memberID, "member_id")
        if let start = windowStart, let end = windowEnd, end.date <= start.date {
            throw JobPayloadError("payload.window_end must be after window_start")
        }
    }
}

/// `refresh_token`: refresh the access token ahead of its expiry.
package struct RefreshTokenPayload: JobPayload, Encodable {
    package static let jobType = "refresh_token"
    package let memberID: String
    package let provider: ProviderKind
    package let force: Bool

    enum CodingKeys: String, CodingKey {
        case memberID = "member_id", provider, force
    }

    /// A refresh a producer enqueues (the scheduler).
    package init(memberID: String, provider: ProviderKind, force: Bool = false) {
        self.memberID = memberID
        self.provider = provider
        self.force = force
    }

    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        memberID = try c.decode(String.self, forKey: .memberID)
        provider = try c.decode(ProviderKind.self, forKey: .provider)
        force = try c.decodeIfPresent(Bool.self, forKey: .force) ?? false
    }

    /// Writes only what differs from the defaults (`force` only when true).
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(memberID, forKey: .memberID)
        try c.encode(provider, forKey: .provider)
        if force { try c.encode(true, forKey: .force) }
    }

    package func validate() throws(JobPayloadError) {
        try validateID(memberID, "member_id")
        guard provider != .caldav else {
            throw JobPayloadError("payload.provider must be google or microsoft: caldav has no tokens to refresh")
        }
    }
}

/// The job types of the contract, with their payload decoders.
package enum ContractJobTypes {
    /// Every job type of contract §2.
    package static let all: [String] = [
        ConnectCalendarPayload.jobType, DisconnectCalendarPayload.jobType, ExportAppointmentPayload.jobType,
        DeleteExternalEventPayload.jobType, ImportWindowPayload.jobType, RefreshTokenPayload.jobType,
    ]

    /// Decodes and validates the payload of a job of `type`; throws for unknown types too.
    package static func validate(type: String, payload: [UInt8]) throws(JobPayloadError) {
        switch type {
        case ConnectCalendarPayload.jobType: _ = try ConnectCalendarPayload.decode(from: payload)
        case DisconnectCalendarPayload.jobType: _ = try DisconnectCalendarPayload.decode(from: payload)
        case ExportAppointmentPayload.jobType: _ = try ExportAppointmentPayload.decode(from: payload)
        case DeleteExternalEventPayload.jobType: _ = try DeleteExternalEventPayload.decode(from: payload)
        case ImportWindowPayload.jobType: _ = try ImportWindowPayload.decode(from: payload)
        case RefreshTokenPayload.jobType: _ = try RefreshTokenPayload.decode(from: payload)
        default: throw JobPayloadError("unknown job type \(type)")
        }
    }
}
