import CalsyncSync
import Foundation
import Testing

@Suite("Rendering and export keys")
struct RenderingTests {
    let key = ExportKey(memberID: "m-1", appointmentID: "a-1")
    let start = Date(timeIntervalSince1970: 1_795_000_000)

    func appointment(status: String = "confirmed", start: Date? = nil) -> AppointmentSnapshot {
        let s = start ?? self.start
        return AppointmentSnapshot(
            id: "a-1", revision: 3, status: status, countsAsBusy: true, startsAt: s, endsAt: s.addingTimeInterval(3600),
            timeZone: "Asia/Tokyo", serviceName: "Deep tissue massage", customerName: "Ada Lovelace",
            customerEmail: "ada@example.test", notes: "Allergic to lavender", location: "Room 2")
    }

    @Test func privateModeShowsTheServiceOnlyAndIsPrivate() {
        let e = EventRenderer.render(appointment(), details: .private, key: key)
        #expect(e.title == "Deep tissue massage")
        #expect(e.description == nil)
        #expect(e.location == nil)
        #expect(e.visibility == .private)
        #expect(e.timeZone == "Asia/Tokyo")
        #expect(e.markerValue == key.markerValue)
        let everything = "\(e.title) \(e.description ?? "") \(e.location ?? "")"
        #expect(!everything.contains("Ada"))
        #expect(!everything.contains("lavender"))
        #expect(!everything.contains("ada@example.test"))
    }

    @Test func fullModeShowsServiceCustomerNotesAndLocationButNeverTheEmail() {
        let e = EventRenderer.render(appointment(), details: .full, key: key)
        #expect(e.title.contains("Deep tissue massage"))
        #expect(e.title.contains("Ada Lovelace"))
        #expect(e.description?.contains("Ada Lovelace") == true)
        #expect(e.description?.contains("Allergic to lavender") == true)
        #expect(e.location == "Room 2")
        #expect(e.visibility == .default)
        #expect(!(e.description ?? "").contains("ada@example.test"))
    }

    @Test func busyModeShowsBusyOnly() {
        let e = EventRenderer.render(appointment(), details: .busy, key: key)
        #expect(e.title == "Busy")
        #expect(e.description == nil)
        #expect(e.location == nil)
        #expect(e.visibility == .private)
    }

    @Test func missingServiceAndUnknownZoneFallBack() {
        var a = appointment()
        a.serviceName = "   "
        a.timeZone = "Mars/Olympus"
        let e = EventRenderer.render(a, details: .private, key: key)
        #expect(e.title == "Appointment")
        #expect(e.timeZone == "UTC")
    }

    @Test func contentHashIgnoresStatusOnlyChangesAndSeesRenderedChanges() {
        let base = EventRenderer.render(appointment(), details: .private, key: key).contentHash
        #expect(base.count == 64)
        #expect(EventRenderer.render(appointment(status: "attended"), details: .private, key: key).contentHash == base)
        #expect(EventRenderer.render(appointment(start: start.addingTimeInterval(900)), details: .private, key: key).contentHash != base)
        #expect(EventRenderer.render(appointment(), details: .full, key: key).contentHash != base)
        #expect(EventRenderer.render(appointment(), details: .busy, key: key).contentHash != base)
        var moved = appointment()
        moved.location = "Room 3"  // not rendered in .private: same hash
        #expect(EventRenderer.render(moved, details: .private, key: key).contentHash == base)
        #expect(EventRenderer.render(moved, details: .full, key: key).contentHash != EventRenderer.render(appointment(), details: .full, key: key).contentHash)
    }

    @Test func wantsEventFollowsBusyAndCancelled() {
        #expect(appointment().wantsEvent)
        #expect(!appointment(status: "cancelled").wantsEvent)
        var free = appointment()
        free.countsAsBusy = false
        #expect(!free.wantsEvent)
    }

    @Test func exportKeyIsDeterministicBase32hex() throws {
        let id = key.googleEventID
        #expect(id.count == 52)
        let alphabet = Set("0123456789abcdefghijklmnopqrstuv")
        #expect(id.allSatisfy { alphabet.contains($0) })
        #expect(ExportKey(memberID: "m-1", appointmentID: "a-1").googleEventID == id)
        #expect(ExportKey(memberID: "m-2", appointmentID: "a-1").googleEventID != id)
        #expect(ExportKey(memberID: "m-1", appointmentID: "a-2").googleEventID != id)
        #expect(ExportKey(memberID: "a:b", appointmentID: "c").digest != ExportKey(memberID: "a", appointmentID: "b:c").digest)
        #expect(key.graphTransactionID == ExportKey(memberID: "m-1", appointmentID: "a-1").graphTransactionID)
        #expect(key.graphTransactionID.hasPrefix("calsync-"))
        let decoded = try JSONDecoder().decode(ExportKey.self, from: JSONEncoder().encode(key))
        #expect(decoded == key)
    }

    @Test func credentialsNeverPrintTokens() {
        let c = ProviderCredentials(
            accessToken: "ya29.SECRET-ACCESS", refreshToken: "1//SECRET-REFRESH", expiresAt: Date(), accountEmail: "x@example.test")
        for text in [c.description, c.debugDescription, "\(c)", String(reflecting: c)] {
            #expect(!text.contains("SECRET"))
        }
    }
}
