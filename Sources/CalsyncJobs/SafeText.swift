/// Makes text from outside calsync (a provider's answer, a driver's error) safe for one line of an
/// error message, a log line, an event or a dead record: control characters escaped, length capped.
package enum SafeText {
    /// The most characters a message keeps; longer text is cut and ends with `…`.
    package static let messageLimit = 300

    /// `text` on one line: control characters escaped (`\n`, `\t`, `\u{1b}`), at most `limit`
    /// characters (a cut ends with `…`). Reads no further than the limit, however long the text.
    package static func line(_ text: some StringProtocol, limit: Int = messageLimit) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            let piece = escape(scalar)
            let length = piece?.unicodeScalars.count ?? 1
            if count + length > limit {
                out.append("…")
                return out
            }
            if let piece { out += piece } else { out.unicodeScalars.append(scalar) }
            count += length
        }
        return out
    }

    /// `text` with control characters escaped, whatever its length (for text printed in full).
    package static func escaped(_ text: some StringProtocol) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if let piece = escape(scalar) { out += piece } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }

    /// One safe line describing `error`: its `oneLineDescription` when it has one, else its description.
    package static func describe(_ error: any Error) -> String {
        if let error = error as? any OneLineDescribable { return line(error.oneLineDescription) }
        return line(String(describing: error))
    }

    /// The escape of a control character (C0, DEL, C1, bidirectional overrides); nil for any other.
    static func escape(_ scalar: Unicode.Scalar) -> String? {
        switch scalar.value {
        case 0x0A: return "\\n"
        case 0x0D: return "\\r"
        case 0x09: return "\\t"
        case 0x00..<0x20, 0x7F..<0xA0, 0x202A...0x202E, 0x2066...0x2069:
            return "\\u{\(String(scalar.value, radix: 16))}"
        default: return nil
        }
    }
}

/// An error that can say what happened in one line without the SQL, bind values or secrets it may
/// carry (e.g. a PostgreSQL error: code, SQLSTATE and the server's message only).
package protocol OneLineDescribable: Error {
    /// The safe one-line summary.
    var oneLineDescription: String { get }
}
