import CalsyncJobs
import CalsyncSyncTesting
import Foundation
import Testing

@testable import CalsyncSync

@Suite("Opened credentials are reused, never past their key or context")
struct OpenedCredentialCacheTests {
    let credentials = ProviderCredentials(
        accessToken: "ya29.access-token", refreshToken: "1//refresh-token", expiresAt: Date(timeIntervalSince1970: 1_800_000_000),
        accountEmail: "ann@example.test")

    func connection(member: String, sealed: SealedCredentials) -> ConnectionRecord {
        ConnectionRecord(
            id: "c-1", memberID: member, provider: .google, accountEmail: nil, status: .active, statusDetail: nil,
            exportCalendarID: nil, busyCalendarIDs: [], syncDirection: .both, eventDetails: .private, credentials: sealed)
    }

    @Test("the same sealed bytes open once; moved to another member or sealed with a forgotten key they still fail")
    func reuseIsBoundToBytesKeyAndContext() throws {
        let rig = SyncTestRig()
        let sealer = SyncTestRig.sealer
        let sealed = try sealer.seal(credentials, context: CredentialSealer.connectionContext(memberID: "m-1", provider: "google"))
        let env = rig.environment
        #expect(try env.openCredentials(sealed, connection: connection(member: "m-1", sealed: sealed)) == credentials)
        #expect(env.openedCredentials.value(sealed, context: env.sealContext(memberID: "m-1", provider: .google)) == credentials)
        #expect(try env.openCredentials(sealed, connection: connection(member: "m-1", sealed: sealed)) == credentials)

        // Moved to another member's row: the context differs, AES-GCM refuses it.
        let moved = #expect(throws: JobError.self) { try env.openCredentials(sealed, connection: connection(member: "m-2", sealed: sealed)) }
        #expect(moved?.code.rawValue == "tampered")

        // The key that sealed them is no longer configured: refused although they were opened before.
        var rotated = env
        rotated.sealer = try CredentialSealer(currentKey: Array(repeating: 7, count: 32))
        let forgotten = #expect(throws: JobError.self) { try rotated.openCredentials(sealed, connection: connection(member: "m-1", sealed: sealed)) }
        #expect(forgotten?.code.rawValue == "unknown_key")
    }
}
