import CalsyncStore
import Foundation
import PostgresNIO
import Testing

/// Eligibility (contract §4) and the parked-replay guard are defined once, as SQL functions every statement uses.
@Suite("Eligibility rule in SQL")
struct EligibilityRuleTests {
    @Test("an organization is eligible only with sync enabled on plan pro or advanced")
    func eligibility() async throws {
        try await TestDatabase.with(migrated: true) { db in
            for plan in ["free", "pro", "advanced"] {
                for enabled in [false, true] {
                    let answer = try await db.client.query("SELECT calsync_organization_eligible(\(enabled), \(plan))")
                        .decode(Bool.self).collectAll()
                    #expect(answer == [enabled && plan != "free"], "plan \(plan), enabled \(enabled)")
                }
            }
        }
    }

    @Test("a parked change is offered for replay again only 5 minutes after its last replay was enqueued")
    func replayGuard() async throws {
        try await TestDatabase.with(migrated: true) { db in
            let answers = try await db.client.query(
                """
                SELECT calsync_parked_replay_due(NULL), calsync_parked_replay_due(now() - interval '4 minutes'),
                       calsync_parked_replay_due(now() - interval '6 minutes')
                """
            ).decode((Bool, Bool, Bool).self).collectAll()
            #expect(answers.first.map { [$0.0, $0.1, $0.2] } == [true, false, true])
        }
    }

    @Test("no statement spells the rules out again: only the applied first migration and the functions' own")
    func definedOnce() throws {
        let sources = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources")
        var eligibility: Set<String> = []
        var replayGuard: Set<String> = []
        let files = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
        for case let file as URL in files where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            if text.contains("IN ('pro', 'advanced')") { eligibility.insert(file.lastPathComponent) }
            if text.contains("interval '5 minutes'") { replayGuard.insert(file.lastPathComponent) }
        }
        #expect(eligibility == ["Migrations.swift", "Migrations+Eligibility.swift"])
        #expect(replayGuard == ["Migrations+Eligibility.swift"])
    }
}
