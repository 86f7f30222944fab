@testable import CalsyncStore
import CalsyncSync
import Foundation
import PostgresNIO
import Testing

/// `calsync rekey` against the real PostgreSQL: old keys can be retired.
@Suite("Credential rekey")
struct CredentialRekeyTests {
    static func key() -> [UInt8] { (0..<32).map { _ in UInt8.random(in: 0...255) } }

    static func save(_ store: PostgresSyncStore, member: String, provider: ProviderKind, sealer: CredentialSealer, token: String) async throws {
        let credentials = ProviderCredentials(accessToken: token, refreshToken: "rt-\(token)", expiresAt: Date().addingTimeInterval(3600))
        let context = CredentialSealer.connectionContext(memberID: member, provider: provider.rawValue)
        _ = try await store.saveConnection(NewConnection(
            memberID: member, provider: provider, accountEmail: "\(member)@x.test", primaryCalendarID: "cal",
            credentials: try sealer.seal(credentials, context: context), accessTokenExpiresAt: credentials.expiresAt))
    }

    static func stored(_ db: TestDatabase, member: String) async throws -> (SealedCredentials, String) {
        let rows = try await db.client.query(
            "SELECT credentials_key_id, credentials_sealed, provider FROM calendar_connections WHERE member_id = \(member)")
        for try await (keyID, sealed, provider) in rows.decode((String, ByteBuffer, String).self) {
            return (SealedCredentials(keyID: keyID, sealed: Array(buffer: sealed)), CredentialSealer.connectionContext(memberID: member, provider: provider))
        }
        throw CancellationError()
    }

    @Test("seal with A, rotate to B with A as previous, rekey: everything opens with B alone; an unknown key is reported")
    func rekeyRetiresTheOldKey() async throws {
        try await TestDatabase.with { db in
            try await SyncStoreTests.seed(db, members: ["m-1", "m-2", "m-3"])
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            let (a, b, lost) = (Self.key(), Self.key(), Self.key())
            let sealerA = try CredentialSealer(currentKey: a)
            try await Self.save(store, member: "m-1", provider: .google, sealer: sealerA, token: "one")
            try await Self.save(store, member: "m-2", provider: .microsoft, sealer: sealerA, token: "two")
            try await Self.save(store, member: "m-3", provider: .google, sealer: try CredentialSealer(currentKey: lost), token: "three")
            let rotated = try CredentialSealer(currentKey: b, previousKeys: [a])
            let rekeyer = CredentialRekeyer(client: db.client, logger: db.logger)

            let dry = try await rekeyer.run(sealer: rotated, dryRun: true, batchSize: 1)
            #expect(dry.readable == 2 && dry.resealed == 0)
            #expect(dry.unreadable == [CredentialSealer.keyID(lost): 1])
            #expect(try await Self.stored(db, member: "m-1").0.keyID == CredentialSealer.keyID(a), "a dry run writes nothing")

            let report = try await rekeyer.run(sealer: rotated, dryRun: false, batchSize: 1)
            #expect(report.resealed == 2)
            #expect(report.remaining == [CredentialSealer.keyID(lost): 1])
            #expect(report.unreadable == [CredentialSealer.keyID(lost): 1])

            let onlyB = try CredentialSealer(currentKey: b)
            for (member, token) in [("m-1", "one"), ("m-2", "two")] {
                let (sealed, context) = try await Self.stored(db, member: member)
                #expect(sealed.keyID == onlyB.currentKeyID)
                #expect(try onlyB.open(ProviderCredentials.self, from: sealed, context: context).accessToken == token)
            }
            // A second run has nothing left to do.
            let again = try await rekeyer.run(sealer: rotated, dryRun: false, batchSize: 500)
            #expect(again.resealed == 0 && again.readable == 0)
        }
    }

    @Test("a row that changed while it was being resealed is left as found")
    func aConcurrentWriteWins() async throws {
        try await TestDatabase.with { db in
            try await SyncStoreTests.seed(db, members: ["m-1"])
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            let (a, b) = (Self.key(), Self.key())
            let sealerA = try CredentialSealer(currentKey: a)
            try await Self.save(store, member: "m-1", provider: .google, sealer: sealerA, token: "old")
            let (read, context) = try await Self.stored(db, member: "m-1")
            let rotated = try CredentialSealer(currentKey: b, previousKeys: [a])
            let resealed = try rotated.reseal(read, context: context)
            // Between the rekeyer's read and its write, a worker still on key A refreshes the token.
            try await Self.save(store, member: "m-1", provider: .google, sealer: sealerA, token: "new")
            let rekeyer = CredentialRekeyer(client: db.client, logger: db.logger)
            let connectionID = try #require(try await store.memberState("m-1")?.connections.first?.id)
            #expect(try await rekeyer.replace(connectionID: connectionID, old: read, new: resealed) == false)
            let (now, _) = try await Self.stored(db, member: "m-1")
            #expect(try sealerA.open(ProviderCredentials.self, from: now, context: context).accessToken == "new", "the refresh won")
            // The next run reseals the refreshed credentials.
            #expect(try await rekeyer.run(sealer: rotated, dryRun: false).resealed == 1)
            let (after, _) = try await Self.stored(db, member: "m-1")
            #expect(try CredentialSealer(currentKey: b).open(ProviderCredentials.self, from: after, context: context).accessToken == "new")
        }
    }
}
