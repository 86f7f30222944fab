import CalsyncJobs
import CalsyncQueue
import CalsyncSandbox
import Foundation

/// The web tier's side of the benchmark: an organization, members connected to sandbox accounts, jobs.
extension BenchRig {
    /// Member ids `m0001`… of the export scenarios.
    static func memberIDs(_ count: Int) -> [String] {
        (1...count).map { String(format: "m%04d", $0) }
    }

    /// The sandbox account of a member.
    static func email(_ member: String) -> String { "\(member)@bench.sandbox.test" }

    /// Creates the organization and the members, and connects each to a new Google sandbox account through
    /// real `connect_calendar` jobs run by `worker`; returns when all are active and the queues are idle.
    func connectMembers(_ members: [String]) async throws {
        try await execute(
            """
            INSERT INTO organizations (id, plan, external_calendar_sync_enabled) VALUES ('\(Self.organization)', 'pro', true)
            ON CONFLICT (id) DO NOTHING
            """)
        var envelopes: [String] = []
        for member in members {
            try await execute(
                "INSERT INTO members (id, organization_id, time_zone) VALUES ('\(member)', '\(Self.organization)', 'Europe/Berlin')")
            _ = sandbox.createAccount(.google, email: Self.email(member), timeZone: "Europe/Berlin")
            let code = sandbox.issueAuthorizationCode(.google, email: Self.email(member), redirectURI: Self.redirectURI)
            let payload: [String: Any] = [
                "member_id": member, "actor_member_id": member, "provider": "google", "authorization_code": code,
                "redirect_uri": Self.redirectURI,
            ]
            envelopes.append(JobQueue.envelope(id: "connect-\(member)", type: "connect_calendar", payload: try Self.json(payload)))
        }
        try await push("connect_calendar", envelopes)
        try await waitIdle(timeout: .seconds(120))
        let active = try await count(
            "SELECT count(*) FROM calendar_connections WHERE status = 'active' AND member_id IN (\(members.map { "'\($0)'" }.joined(separator: ",")))")
        guard active == members.count else {
            throw BenchError("only \(active) of \(members.count) members connected; see the worker log")
        }
    }

    /// `export_appointment` envelopes: job `i` exports appointment `\(tag)-i` (revision 1) of member `i % members`.
    static func exportEnvelopes(tag: String, count: Int, members: [String], base: Date) -> [String] {
        (0..<count).map { index in exportEnvelope(tag: tag, index: index, member: members[index % members.count], base: base) }
    }

    /// One `export_appointment` envelope, enqueued now.
    static func exportEnvelope(tag: String, index: Int, member: String, base: Date) -> String {
        let start = base.addingTimeInterval(Double(index % 2_880) * 1_800)
        let appointment: [String: Any] = [
            "id": "\(tag)-\(index)", "revision": 1, "status": "confirmed", "counts_as_busy": true,
            "starts_at": RFC3339.format(start), "ends_at": RFC3339.format(start.addingTimeInterval(1_800)),
            "time_zone": "Europe/Berlin", "service_name": "Haircut", "customer_name": "Ada Customer",
            "customer_email": "ada@customer.test", "notes": "Bench appointment", "location": "Salon",
        ]
        // Plain values only: serialization cannot fail.
        let payload = (try? json(["member_id": member, "appointment": appointment])) ?? "{}"
        return JobQueue.envelope(id: "\(tag)-\(index)", type: "export_appointment", payload: payload)
    }

    /// A payload object's JSON text, written by Foundation's serializer.
    static func json(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
    }

    /// Tomorrow, 06:00 UTC: the first start of the benchmark's appointments.
    static var appointmentBase: Date {
        let day = (Date().timeIntervalSince1970 / 86_400).rounded(.down) * 86_400
        return Date(timeIntervalSince1970: day + 86_400 + 6 * 3_600)
    }

    /// Provider writes answered with success since the last `clearRequests`.
    func successfulWrites() -> [SandboxRequestRecord] {
        sandbox.requests().filter { $0.isWrite && (200..<300).contains($0.status) }
    }
}
