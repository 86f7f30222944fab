import Foundation

/// The appointment fields of an `export_appointment` job (contract §2) that rendering needs.
public struct AppointmentSnapshot: Sendable, Hashable, Codable {
    /// The appointment id.
    public var id: String
    /// Grows with every change of the appointment.
    public var revision: Int64
    /// The web tier's status; only `cancelled` has a meaning here.
    public var status: String
    /// Whether the appointment blocks the member's time.
    public var countsAsBusy: Bool
    /// Start (instant).
    public var startsAt: Date
    /// End (instant, exclusive).
    public var endsAt: Date
    /// The IANA time zone to show the event in, when given.
    public var timeZone: String?
    /// The booked service's name.
    public var serviceName: String?
    /// The customer's name (customer data: only in `.full`).
    public var customerName: String?
    /// The customer's email (never rendered; kept for completeness of the payload).
    public var customerEmail: String?
    /// Free-text notes (customer data: only in `.full`).
    public var notes: String?
    /// Where the appointment takes place (only in `.full`).
    public var location: String?

    /// Creates a snapshot.
    public init(
        id: String, revision: Int64, status: String, countsAsBusy: Bool, startsAt: Date, endsAt: Date,
        timeZone: String? = nil, serviceName: String? = nil, customerName: String? = nil,
        customerEmail: String? = nil, notes: String? = nil, location: String? = nil
    ) {
        self.id = id
        self.revision = revision
        self.status = status
        self.countsAsBusy = countsAsBusy
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.timeZone = timeZone
        self.serviceName = serviceName
        self.customerName = customerName
        self.customerEmail = customerEmail
        self.notes = notes
        self.location = location
    }

    /// Whether the member's calendar should hold an event for this revision (busy and not cancelled).
    public var wantsEvent: Bool { countsAsBusy && status != "cancelled" }
}

/// How much of an appointment a connection's exported events show (a per-connection setting).
public enum EventDetails: String, Sendable, Hashable, Codable, CaseIterable {
    /// The default: the service name only, no customer data, private visibility.
    case `private`
    /// Service, customer name, notes and location, default visibility.
    case full
    /// The title "Busy" only, private visibility.
    case busy
}
