import CalsyncJobs
import CalsyncSync
import Foundation
import Testing

@Suite("Credential sealing")
struct CredentialSealerTests {
    let credentials = ProviderCredentials(
        accessToken: "ya29.access-token", refreshToken: "1//refresh-token", expiresAt: Date(timeIntervalSince1970: 1_800_000_000),
        accountEmail: "ann@example.test")
    let oldKey = Array(repeating: UInt8(1), count: 32)
    let newKey = Array(repeating: UInt8(2), count: 32)

    @Test("sealed credentials open again, and the sealed bytes hold no token in clear")
    func roundTrip() throws {
        let sealer = try CredentialSealer(currentKey: newKey)
        let sealed = try sealer.seal(credentials, context: "m-1:google")
        #expect(sealed.keyID == CredentialSealer.keyID(newKey))
        #expect(!String(decoding: sealed.sealed, as: UTF8.self).contains("access-token"))
        #expect(try sealer.open(ProviderCredentials.self, from: sealed, context: "m-1:google") == credentials)
    }

    @Test("a sealed blob does not open for another member or provider")
    func contextBinding() throws {
        let sealer = try CredentialSealer(currentKey: newKey)
        let sealed = try sealer.seal(credentials, context: "m-1:google")
        let error = #expect(throws: CredentialSealError.self) {
            try sealer.open(ProviderCredentials.self, from: sealed, context: "m-2:google")
        }
        #expect(error?.code == .tampered)
    }

    @Test("after a rotation, old seals open with the previous key and are marked for resealing")
    func rotation() throws {
        let before = try CredentialSealer(currentKey: oldKey)
        let sealed = try before.seal(credentials, context: "c")
        let after = try CredentialSealer(currentKey: newKey, previousKeys: [oldKey])
        #expect(try after.open(ProviderCredentials.self, from: sealed, context: "c") == credentials)
        #expect(after.needsResealing(sealed))
        #expect(!after.needsResealing(try after.seal(credentials, context: "c")))
        let forgotten = try CredentialSealer(currentKey: newKey)
        let error = #expect(throws: CredentialSealError.self) {
            try forgotten.open(ProviderCredentials.self, from: sealed, context: "c")
        }
        #expect(error?.code == .unknownKey)
        #expect(error?.message.contains("CALSYNC_PREVIOUS_ENCRYPTION_KEYS") == true)
    }

    @Test("a flipped bit is detected, and keys of the wrong size are refused")
    func tamperingAndKeySize() throws {
        let sealer = try CredentialSealer(currentKey: newKey)
        var sealed = try sealer.seal(credentials, context: "c")
        sealed.sealed[sealed.sealed.count / 2] ^= 0x01
        #expect(throws: CredentialSealError.self) { try sealer.open(ProviderCredentials.self, from: sealed, context: "c") }
        #expect(throws: CredentialSealError.self) { try CredentialSealer(currentKey: Array(repeating: 0, count: 16)) }
    }
}

@Suite("Lock tokens")
struct LockTokenTests {
    @Test func tokensAre128RandomBitsAsHex() {
        var seen = Set<String>()
        for _ in 0..<1_000 {
            let token = JobLock.randomToken()
            #expect(token.count == 32 && token.allSatisfy(\.isHexDigit))
            seen.insert(token)
        }
        #expect(seen.count == 1_000)
    }
}
