import Crypto

/// The deterministic identity of one appointment's event in one member's calendar: every retry,
/// duplicate job or reconnect derives the same provider ids from it, so a provider never holds two.
package struct ExportKey: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The member whose calendar holds the event.
    package let memberID: String
    /// The appointment the event shows.
    package let appointmentID: String
    /// SHA-256 of `calsync:v1:<member>:<appointment>` in lowercase base32hex (52 chars of `[0-9a-v]`).
    package let digest: String
    /// The revision at which calsync last recorded no event for this key (it deleted it, or never made
    /// one) while a state was kept; nil before any. It picks the Graph `transactionId` of the next create.
    package var generation: Int64?

    /// Derives the key of (member, appointment), optionally of a later generation.
    package init(memberID: String, appointmentID: String, generation: Int64? = nil) {
        self.memberID = memberID
        self.appointmentID = appointmentID
        self.generation = generation
        // Length-prefixed so that ("a:b", "c") and ("a", "b:c") never collide.
        let material = "calsync:v1:\(memberID.utf8.count):\(memberID):\(appointmentID)"
        self.digest = Self.base32hex(Array(SHA256.hash(data: Array(material.utf8))))
    }

    /// The Google event id: base32hex, valid as a client-chosen id.
    package var googleEventID: String { digest }

    /// The Microsoft Graph `transactionId` of a create in this key's generation.
    ///
    /// Graph refuses a `transactionId` once used, even after its event was deleted, and its lookup by
    /// marker can lag behind a create that happened: a create is therefore never retried under a
    /// random id (that could duplicate the event). Instead the id is derived from what calsync
    /// recorded: generation nil (never recorded without an event) keeps the original id; after
    /// calsync recorded "no event" at revision R, creates use an id derived from R, which no earlier
    /// create can have used (a create under R is recorded at a revision above R). Every retry of one
    /// create sees the same recorded state, so it derives the same id and Graph's rule keeps it single.
    package var graphTransactionID: String {
        guard let generation else { return "calsync-\(digest.prefix(40))" }
        return Self.derivedTransactionID(digest, "generation:\(generation)")
    }

    /// The `transactionId` of a create that replaces `goneEventID`, an event calsync knew and Graph
    /// answered 404 for (deleted in the calendar): event ids are unique, so this id is unused, and a
    /// retry (which still knows the same gone id) derives it again.
    package func graphTransactionID(replacing goneEventID: String) -> String {
        Self.derivedTransactionID(digest, "replacing:\(goneEventID.utf8.count):\(goneEventID)")
    }

    static func derivedTransactionID(_ digest: String, _ material: String) -> String {
        let hash = base32hex(Array(SHA256.hash(data: Array("calsync:tx:v1:\(digest):\(material)".utf8))))
        return "calsync-\(hash.prefix(40))"
    }

    /// The value of the private marker property that says "calsync exported this event".
    package var markerValue: String { digest }

    /// The key without ids (for logs): the digest prefix.
    package var description: String { "ExportKey(\(digest.prefix(12)))" }

    private enum CodingKeys: String, CodingKey { case memberID, appointmentID }

    /// Decodes the two ids and derives the rest (the generation is not encoded).
    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(memberID: try c.decode(String.self, forKey: .memberID), appointmentID: try c.decode(String.self, forKey: .appointmentID))
    }

    /// Encodes the two ids.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(memberID, forKey: .memberID)
        try c.encode(appointmentID, forKey: .appointmentID)
    }

    /// RFC 4648 base32hex without padding, lowercased.
    static func base32hex(_ bytes: [UInt8]) -> String {
        let alphabet = Array("0123456789abcdefghijklmnopqrstuv".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[Int((buffer >> UInt32(bits)) & 31)])
            }
        }
        if bits > 0 { out.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The marker calsync writes on every event it exports, so imports can skip them.
package enum ExportMarker {
    /// The key of the private extended property (Google) and the name of the Graph property.
    package static let propertyName = "calsyncExportKey"
    /// The Graph single-value extended property id (a fixed property-set GUID of calsync plus the name).
    package static let graphPropertyID = "String {8c3b2a4e-5d1f-4a7b-9e62-0f3c5a1d7e90} Name calsyncExportKey"
}
