import CalsyncStore
import Foundation
import PostgresNIO
import Testing

@Suite("member_busy_intervals view")
struct BusyIntervalsViewTests {
    /// Seeds one organization with one member, a connection and one busy block; returns the connection id.
    @discardableResult
    static func seed(
        _ db: TestDatabase, org: String, plan: String, enabled: Bool, member: String,
        provider: String = "google", status: String = "active", eventID: String = "ev1"
    ) async throws -> UUID {
        try await db.execute(
            """
            INSERT INTO organizations (id, plan, external_calendar_sync_enabled) VALUES (\(org), \(plan), \(enabled))
            ON CONFLICT (id) DO NOTHING
            """)
        try await db.execute("INSERT INTO members (id, organization_id) VALUES (\(member), \(org)) ON CONFLICT (id) DO NOTHING")
        let ids = try await db.client.query(
            """
            INSERT INTO calendar_connections (member_id, provider, account_email, status, export_calendar_id, busy_calendar_ids)
            VALUES (\(member), \(provider), 'someone@example.com', \(status), 'cal-1', ARRAY['cal-1'])
            RETURNING id
            """
        ).decode(UUID.self).collectAll()
        let connection = try #require(ids.first)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let end = start.addingTimeInterval(3600)
        try await db.execute(
            """
            INSERT INTO external_busy_blocks (member_id, connection_id, calendar_id, external_event_id, starts_at, ends_at, all_day)
            VALUES (\(member), \(connection), 'cal-1', \(eventID), \(start), \(end), false)
            """)
        return connection
    }

    static func visibleMembers(_ db: TestDatabase) async throws -> [String] {
        try await db.client.query("SELECT member_id FROM member_busy_intervals ORDER BY member_id")
            .decode(String.self).collectAll()
    }

    @Test("a block shows for an eligible organization (pro or advanced, sync enabled, connection not disconnected)")
    func eligible() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db, org: "o-pro", plan: "pro", enabled: true, member: "m-pro")
            try await Self.seed(db, org: "o-adv", plan: "advanced", enabled: true, member: "m-adv")
            try await Self.seed(
                db, org: "o-adv", plan: "advanced", enabled: true, member: "m-reconnect", status: "reconnect_required")
            #expect(try await Self.visibleMembers(db) == ["m-adv", "m-pro", "m-reconnect"])
            let rows = try await db.client.query(
                "SELECT starts_at, ends_at FROM member_busy_intervals WHERE member_id = 'm-pro'"
            ).decode((Date, Date).self).collectAll()
            #expect(rows.count == 1)
            #expect(rows.first.map { $0.1.timeIntervalSince($0.0) } == 3600)
        }
    }

    @Test("no block shows for a free plan, sync disabled, or a disconnected connection")
    func ineligible() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db, org: "o-free", plan: "free", enabled: true, member: "m-free")
            try await Self.seed(db, org: "o-off", plan: "pro", enabled: false, member: "m-off")
            try await Self.seed(db, org: "o-ok", plan: "pro", enabled: true, member: "m-gone", status: "disconnected")
            #expect(try await Self.visibleMembers(db) == [])
        }
    }

    @Test("the view follows the organization: flipping sync on shows the blocks again")
    func flip() async throws {
        try await TestDatabase.with { db in
            try await Self.seed(db, org: "o-1", plan: "pro", enabled: false, member: "m-1")
            #expect(try await Self.visibleMembers(db) == [])
            try await db.execute("UPDATE organizations SET external_calendar_sync_enabled = true WHERE id = 'o-1'")
            #expect(try await Self.visibleMembers(db) == ["m-1"])
            try await db.execute("UPDATE organizations SET plan = 'free' WHERE id = 'o-1'")
            #expect(try await Self.visibleMembers(db) == [])
        }
    }

    @Test("a block never shows for another member, even when its member_id disagrees with its connection")
    func otherMember() async throws {
        try await TestDatabase.with { db in
            let connection = try await Self.seed(db, org: "o-1", plan: "pro", enabled: true, member: "m-owner")
            try await db.execute("INSERT INTO members (id, organization_id) VALUES ('m-teammate', 'o-1')")
            let start = Date(timeIntervalSince1970: 1_800_010_000)
            try await db.execute(
                """
                INSERT INTO external_busy_blocks (member_id, connection_id, calendar_id, external_event_id, starts_at, ends_at)
                VALUES ('m-teammate', \(connection), 'cal-1', 'ev-x', \(start), \(start.addingTimeInterval(60)))
                """)
            #expect(try await Self.visibleMembers(db) == ["m-owner"])
            let teammate = try await db.client.query(
                "SELECT count(*)::int FROM member_busy_intervals WHERE member_id = 'm-teammate'"
            ).decode(Int.self).collectAll()
            #expect(teammate == [0])
        }
    }

    @Test("members and organizations accept rows with only the contract's columns; defaults apply")
    func minimalRows() async throws {
        try await TestDatabase.with { db in
            try await db.execute("INSERT INTO organizations (id, plan, external_calendar_sync_enabled) VALUES ('o', 'pro', true)")
            try await db.execute("INSERT INTO members (id, organization_id) VALUES ('m', 'o')")
            let zones = try await db.client.query("SELECT time_zone FROM members WHERE id = 'm'")
                .decode(String.self).collectAll()
            #expect(zones == ["UTC"])
            try await db.execute("INSERT INTO calendar_connections (member_id, provider) VALUES ('m', 'microsoft')")
            let row = try await db.client.query(
                "SELECT status, sync_direction, event_details FROM calendar_connections WHERE member_id = 'm'"
            ).decode((String, String, String).self).collectAll()
            #expect(row.first?.0 == "active")
            #expect(row.first?.1 == "both")
            #expect(row.first?.2 == "private")
            await #expect(throws: (any Error).self) {
                try await db.execute("INSERT INTO calendar_connections (member_id, provider) VALUES ('m', 'yahoo')")
            }
        }
    }
}
