/// One versioned schema change: SQL statements applied together in one transaction.
package struct Migration: Sendable {
    /// Strictly increasing version number; never reused or renumbered.
    package var version: Int
    /// Short snake_case name, recorded with the version.
    package var name: String
    /// The statements, run in order (one statement per string: the extended protocol runs one at a time).
    package var statements: [String]

    /// Creates a migration.
    package init(version: Int, name: String, statements: [String]) {
        self.version = version
        self.name = name
        self.statements = statements
    }

    /// A stable fingerprint of the statements (FNV-1a 64, hex), recorded to notice an edited migration.
    package var checksum: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for statement in statements {
            for byte in statement.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01b3
            }
            hash ^= 0x1e
            hash = hash &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
