import CalsyncJobs
import CalsyncSync
import Foundation

/// A job for a handler test: its type and payload, encoded with `JSONEncoder`.
package struct TestJob: Sendable {
    package var type: String
    package var payload: [UInt8]

    /// A job of `type` with this payload text.
    package init(type: String, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }

    /// A job of `type` with `payload` encoded (the payload types here always encode).
    package init(type: String, _ payload: some Encodable) {
        self.type = type
        do {
            self.payload = Array(try Self.encoder.encode(payload))
        } catch {
            preconditionFailure("a test payload of \(type) did not encode: \(error)")
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    /// An appointment of an `export_appointment` job.
    package struct Appointment: Encodable, Sendable {
        package var id = "a-1"
        package var revision: Int64 = 1
        package var status = "confirmed"
        package var counts_as_busy = true
        package var starts_at = Date(timeIntervalSinceNow: 86_400).rounded
        package var ends_at = Date(timeIntervalSinceNow: 86_400 + 3_600).rounded
        package var service_name: String? = "Haircut"
        package var customer_name: String? = "Ada Lovelace"
        package var location: String?
        /// `google_meet`, `teams` or `none` (nil: not sent).
        package var video: String?

        /// Moves the appointment to `day` days from now (an hour long): a change every provider shows.
        package mutating func move(toDay day: Double) {
            starts_at = Appointment.day(day)
            ends_at = starts_at.addingTimeInterval(3600)
        }

        /// The start of an appointment `day` days after the test process started, in whole seconds (the
        /// same instant wherever a test asks for it).
        package static func day(_ day: Double) -> Date {
            base.addingTimeInterval(day * 86_400)
        }

        private static let base = Date().rounded
    }

    private struct Export: Encodable {
        var member_id: String
        var appointment: Appointment
    }

    /// `export_appointment` of `appointment` for `member`.
    package static func export(_ appointment: Appointment = .init(), member: String = "m-1") -> TestJob {
        TestJob(type: ExportAppointmentPayload.jobType, Export(member_id: member, appointment: appointment))
    }

    /// `export_appointment` of revision `revision` of appointment `a-1`, edited by `edit`.
    package static func export(
        revision: Int64, member: String = "m-1", _ edit: (inout Appointment) -> Void = { _ in }
    ) -> TestJob {
        var appointment = Appointment()
        appointment.revision = revision
        edit(&appointment)
        return export(appointment, member: member)
    }

    private struct Delete: Encodable {
        var member_id: String
        var appointment_id: String
        var revision: Int64
    }

    /// `delete_external_event`.
    package static func delete(appointment: String = "a-1", revision: Int64, member: String = "m-1") -> TestJob {
        TestJob(type: DeleteExternalEventPayload.jobType, Delete(member_id: member, appointment_id: appointment, revision: revision))
    }

    private struct Import: Encodable {
        var member_id: String
        var provider: String?
        var window_start: Date?
        var window_end: Date?
        var full_resync: Bool?
    }

    /// `import_window`, over the rolling window unless `window` is given.
    package static func importWindow(member: String = "m-1", window: DateInterval? = nil, fullResync: Bool? = nil) -> TestJob {
        TestJob(
            type: ImportWindowPayload.jobType,
            Import(
                member_id: member, window_start: window?.start.rounded, window_end: window?.end.rounded, full_resync: fullResync))
    }

    private struct Connect: Encodable {
        var member_id: String
        var actor_member_id: String
        var provider: String
        var authorization_code: String
        var redirect_uri: String
    }

    /// `connect_calendar` with an authorization code.
    package static func connect(
        member: String = "m-1", actor: String? = nil, provider: ProviderKind = .google, code: String = "code-1"
    ) -> TestJob {
        TestJob(
            type: ConnectCalendarPayload.jobType,
            Connect(
                member_id: member, actor_member_id: actor ?? member, provider: provider.rawValue, authorization_code: code,
                redirect_uri: "https://app.test/oauth"))
    }

    private struct Disconnect: Encodable {
        var member_id: String
        var actor_member_id: String
        var provider: String
    }

    /// `disconnect_calendar`.
    package static func disconnect(member: String = "m-1", actor: String? = nil, provider: ProviderKind = .google) -> TestJob {
        TestJob(
            type: DisconnectCalendarPayload.jobType,
            Disconnect(member_id: member, actor_member_id: actor ?? member, provider: provider.rawValue))
    }

    private struct Refresh: Encodable {
        var member_id: String
        var provider: String
        var force: Bool?
    }

    /// `refresh_token`.
    package static func refreshToken(member: String = "m-1", provider: ProviderKind = .google, force: Bool? = nil) -> TestJob {
        TestJob(type: RefreshTokenPayload.jobType, Refresh(member_id: member, provider: provider.rawValue, force: force))
    }
}

extension Date {
    /// This instant without its fraction of a second (RFC 3339 payloads carry whole seconds).
    package var rounded: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}
