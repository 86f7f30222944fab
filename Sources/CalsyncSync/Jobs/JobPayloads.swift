import Foundation

/// The calendar providers a member can connect.
public enum ProviderKind: String, Codable, Sendable, CaseIterable {
    case google, microsoft, caldav
}

/// `connect_calendar`: connect (or reconnect) a member's external calendar.
public struct ConnectCalendarPayload: JobPayload {
    public static let jobType = "connect_calendar"
    public let memberID: String
    public let actorMemberID: String
    public let provider: ProviderKind
    public let authorizationCode: SecretString?
    public let redirectURI: String?
    public let serverURL: String?
    public let username: String?
    public let password: SecretString?

    enum CodingKeys: String, CodingKey {
        case memberID = "member_id", actorMemberID = "actor_member_id", provider
        case authorizationCode = "authorization_code", redirectURI = "redirect_uri"
        case serverURL = "server_url", username, password
    }

    public func validate() throws(JobPayloadError) {
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
public struct DisconnectCalendarPayload: JobPayload {
    public static let jobType = "disconnect_calendar"
    public let memberID: String
    public let actorMemberID: String
    public let provider: ProviderKind

    enum CodingKeys: String, CodingKey {
        case memberID = "member_id", actorMemberID = "actor_member_id", provider
    }

    public func validate() throws(JobPayloadError) {
        try validateID(memberID, "member_id")
        try validateID(actorMemberID, "actor_member_id")
    }
}

/// `export_appointment`: bring the member's external calendar in line with this revision.
public struct ExportAppointmentPayload: JobPayload {
    public static let jobType = "export_appointment"
    public let memberID: String
    public let appointment: Appointment

    /// The appointment as the web tier describes it.
    public struct Appointment: Decodable, Sendable {
        public let id: String
        public let revision: Int64
        public let status: String
        public let countsAsBusy: Bool
        public let startsAt: RFC3339Instant
        public let endsAt: RFC3339Instant
        public let timeZone: String?
        public let serviceName: String?
        public let customerName: String?
        public let customerEmail: String?
        public let notes: String?
        public let location: String?

        enum CodingKeys: String, CodingKey {
            case id, revision, status, countsAsBusy = "counts_as_busy", startsAt = "starts_at", endsAt = "ends_at"
            case timeZone = "time_zone", serviceName = "service_name", customerName = "customer_name"
            case customerEmail = "customer_email", notes, location
        }

        /// True when the appointment should not be in the calendar at all.
        public var removesEvent: Bool { status == "cancelled" || !countsAsBusy }
    }

    enum CodingKeys: String, CodingKey {
        case memberID = "member_id", appointment
    }

    public func validate() throws(JobPayloadError) {
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

/// `delete_external_event`: remove an appointment's event from a member's calendar.
public struct DeleteExternalEventPayload: JobPayload {
    public static let jobType = "delete_external_event"
    public let memberID: String
    public let appointmentID: String
    public let revision: Int64

    enum CodingKeys: String, CodingKey {
        case memberID = "member_id", appointmentID = "appointment_id", revision
    }

    public func validate() throws(JobPayloadError) {
        try validateID(memberID, "member_id")
        try validateID(appointmentID, "appointment_id")
        guard revision >= 0 else { throw JobPayloadError("payload.revision must be 0 or more") }
    }
}

/// `import_window`: make the member's busy blocks equal to the busy events over a window.
public struct ImportWindowPayload: JobPayload, Encodable {
    public static let jobType = "import_window"
    public let memberID: String
    public let provider: ProviderKind?
    public let windowStart: RFC3339Instant?
    public let windowEnd: RFC3339Instant?
    public let fullResync: Bool

    enum CodingKeys: String, CodingKey {
        case memberID = "member_id", provider, windowStart = "window_start", windowEnd = "window_end"
        case fullResync = "full_resync"
    }

    /// An import a producer enqueues (the scheduler, a connect's follow-up).
    public init(
        memberID: String, provider: ProviderKind?, windowStart: RFC3339Instant? = nil, windowEnd: RFC3339Instant? = nil,
        fullResync: Bool = false
    ) {
        self.memberID = memberID
        self.provider = provider
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.fullResync = fullResync
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        memberID = try c.decode(String.self, forKey: .memberID)
        provider = try c.decodeIfPresent(ProviderKind.self, forKey: .provider)
        windowStart = try c.decodeIfPresent(RFC3339Instant.self, forKey: .windowStart)
        windowEnd = try c.decodeIfPresent(RFC3339Instant.self, forKey: .windowEnd)
        fullResync = try c.decodeIfPresent(Bool.self, forKey: .fullResync) ?? false
    }

    /// Writes only what differs from the defaults (`full_resync` only when true).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(memberID, forKey: .memberID)
        try c.encodeIfPresent(provider, forKey: .provider)
        try c.encodeIfPresent(windowStart, forKey: .windowStart)
        try c.encodeIfPresent(windowEnd, forKey: .windowEnd)
        if fullResync { try c.encode(true, forKey: .fullResync) }
    }

    public func validate() throws(JobPayloadError) {
        try validateID(memberID, "member_id")
        if let start = windowStart, let end = windowEnd, end.date <= start.date {
            throw JobPayloadError("payload.window_end must be after window_start")
        }
    }
}

/// `refresh_token`: refresh the access token ahead of its expiry.
public struct RefreshTokenPayload: JobPayload, Encodable {
    public static let jobType = "refresh_token"
    public let memberID: String
    public let provider: ProviderKind
    public let force: Bool

    enum CodingKeys: String, CodingKey {
        case memberID = "member_id", provider, force
    }

    /// A refresh a producer enqueues (the scheduler).
    public init(memberID: String, provider: ProviderKind, force: Bool = false) {
        self.memberID = memberID
        self.provider = provider
        self.force = force
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        memberID = try c.decode(String.self, forKey: .memberID)
        provider = try c.decode(ProviderKind.self, forKey: .provider)
        force = try c.decodeIfPresent(Bool.self, forKey: .force) ?? false
    }

    /// Writes only what differs from the defaults (`force` only when true).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(memberID, forKey: .memberID)
        try c.encode(provider, forKey: .provider)
        if force { try c.encode(true, forKey: .force) }
    }

    public func validate() throws(JobPayloadError) {
        try validateID(memberID, "member_id")
        guard provider != .caldav else {
            throw JobPayloadError("payload.provider must be google or microsoft: caldav has no tokens to refresh")
        }
    }
}

/// The job types of the contract, with their payload decoders.
public enum ContractJobTypes {
    /// Every job type of contract §2.
    public static let all: [String] = [
        ConnectCalendarPayload.jobType, DisconnectCalendarPayload.jobType, ExportAppointmentPayload.jobType,
        DeleteExternalEventPayload.jobType, ImportWindowPayload.jobType, RefreshTokenPayload.jobType,
    ]

    /// Decodes and validates the payload of a job of `type`; throws for unknown types too.
    public static func validate(type: String, payload: [UInt8]) throws(JobPayloadError) {
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
