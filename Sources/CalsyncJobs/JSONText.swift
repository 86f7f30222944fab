import Foundation

/// JSON text written by hand where `JSONEncoder` cost most of a loop (the scheduler writes 100,000 envelopes
/// a tick; `make bench`): the same text `Job.jsonEncoder` writes, byte for byte, or, for a string that needs
/// escaping, that encoder's own text for it.
package enum JSONText {
    /// `value` as a JSON string literal, quotes included, as `Job.jsonEncoder` writes it.
    package static func quoted(_ value: String) -> String {
        var text = ""
        text.reserveCapacity(value.utf8.count + 2)
        appendQuoted(value, to: &text)
        return text
    }

    /// Appends `value` as a JSON string literal (as ``quoted(_:)`` writes it) to `text`, with no string in between.
    package static func appendQuoted(_ value: String, to text: inout String) {
        var plain = true
        for byte in value.utf8 where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
            plain = false
            break
        }
        if plain {
            text.append("\"")
            text.append(value)
            text.append("\"")
            return
        }
        // Rare (quotes, backslashes, control characters): the encoder's own escaping.
        let encoded = (try? Job.jsonEncoder.encode(value)) ?? Data("\"\"".utf8)
        text.append(String(decoding: encoded, as: UTF8.self))
    }
}
