import Foundation

/// The appointment fields of an `export_appointment` job (contract §2) that rendering needs.
package struct AppointmentSnapshot: Sendable, Hashable, Codable {
    /// The appointment id.
    package var id: String
    /// Grows with every change of the appointment.
    package var revision: Int64
    /// The web tier's status; only `cancelled` has a meaning here.
    package var status: String
    /// Whether the appointment blocks the member's time.
    package var countsAsBusy: Bool
    /// Start (instant).
    package var startsAt: Date
    /// End (instant, exclusive).
    package var endsAt: Date
    /// The IANA time zone to show the event in, when given.
    package var timeZone: String?
    /// The booked service's name.
    package var serviceName: String?
    /// The customer's name (customer data: only in `.full`).
    package var customerName: String?
    /// The customer's email (never rendered; kept for completeness of the payload).
    package var customerEmail: String?
    /// Free-text notes (customer data: only in `.full`).
    package var notes: String?
    /// Where the appointment takes place (only in `.full`).
    package var location: String?

    /// Creates a snapshot.
    package init(
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
    package var wantsEvent: Bool { countsAsBusy && status != "cancelled" }
}

/// How much of an appointment a connection's exported events show (a per-connection setting).
package enum EventDetails: String, Sendable, Hashable, Codable, CaseIterable {
    /// The default: the service name only, no customer data, private visibility.
    case `private`
    /// Service, customer name, notes and location, default visibility.
    case full
    /// The title "Busy" only, private visibility.
    case busy
}
