/// Hides secret fields of job text before it is logged or dead-lettered.
package enum SecretRedaction {
    /// The keys whose values are secrets, at any depth.
    package static let secretKeys: Set<String> = ["authorization_code", "password"]

    /// Replaces every `authorization_code`/`password` value with `"[redacted]"` in parsable JSON,
    /// keeping every other byte; unparsable text is returned as is (lossy UTF-8 decoding).
    package static func redact(_ raw: [UInt8]) -> String {
        String(decoding: redactedBytes(raw) ?? raw, as: UTF8.self)
    }

    /// The redacted bytes when the text parsed and held a secret; nil when nothing changes.
    package static func redactedBytes(_ raw: [UInt8]) -> [UInt8]? {
        var scanner = JSONScanner(raw, secretKeys: secretKeys)
        guard (try? scanner.scanDocument()) != nil else { return nil }
        return apply(scanner.secretRanges, to: raw)
    }

    /// Replaces the given value ranges (outermost wins) with `"[redacted]"`; nil when there are none.
    package static func apply(_ ranges: [Range<Int>], to raw: [UInt8]) -> [UInt8]? {
        if ranges.isEmpty { return nil }
        let replacement = Array("\"[redacted]\"".utf8)
        var output: [UInt8] = []
        output.reserveCapacity(raw.count)
        var cursor = 0
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where range.lowerBound >= cursor {
            output.append(contentsOf: raw[cursor..<range.lowerBound])
            output.append(contentsOf: replacement)
            cursor = range.upperBound
        }
        output.append(contentsOf: raw[cursor...])
        return output
    }

    /// The text to SHOW a person (console, CLI): the JSON redaction when the text parses, else a lenient scan that
    /// masks the value after every `password` / `authorization_code` (any case, quoted or not, after `:` or `=`),
    /// so a malformed or truncated job never shows its secret. The stored record keeps its bytes.
    package static func redactForDisplay(_ raw: [UInt8]) -> String {
        var scanner = JSONScanner(raw, secretKeys: secretKeys)
        if (try? scanner.scanDocument()) != nil {
            return String(decoding: apply(scanner.secretRanges, to: raw) ?? raw, as: UTF8.self)
        }
        return String(decoding: apply(lenientSecretRanges(raw), to: raw) ?? raw, as: UTF8.self)
    }

    /// Text to show a person (see ``redactForDisplay(_:)-([UInt8])``).
    package static func redactForDisplay(_ text: String) -> String {
        redactForDisplay(Array(text.utf8))
    }

    /// The value ranges after each secret key in text that need not parse: after the key (and its closing quote,
    /// spaces, one `:` or `=`), a quoted value up to its closing unescaped quote (or the end), else up to the
    /// next `,` `}` `]` `&` `;` quote, white space or the end.
    static func lenientSecretRanges(_ raw: [UInt8]) -> [Range<Int>] {
        let keys = secretKeys.map { Array($0.utf8) }
        func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        var ranges: [Range<Int>] = []
        var index = 0
        while index < raw.count {
            guard let key = keys.first(where: { key in
                index + key.count <= raw.count && zip(key, raw[index..<(index + key.count)]).allSatisfy { $0 == lower($1) }
            }) else {
                index += 1
                continue
            }
            var cursor = index + key.count
            if cursor < raw.count, raw[cursor] == UInt8(ascii: "\"") || raw[cursor] == UInt8(ascii: "'") { cursor += 1 }
            while cursor < raw.count, isSpace(raw[cursor]) { cursor += 1 }
            guard cursor < raw.count, raw[cursor] == UInt8(ascii: ":") || raw[cursor] == UInt8(ascii: "=") else {
                index += key.count
                continue
            }
            cursor += 1
            while cursor < raw.count, isSpace(raw[cursor]) { cursor += 1 }
            let start = cursor
            if cursor < raw.count, raw[cursor] == UInt8(ascii: "\"") {
                cursor += 1
                while cursor < raw.count, raw[cursor] != UInt8(ascii: "\"") {
                    cursor += raw[cursor] == UInt8(ascii: "\\") ? 2 : 1
                }
                cursor = min(raw.count, cursor + 1)
            } else {
                let stops: Set<UInt8> = [UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: "&"), UInt8(ascii: ";"), UInt8(ascii: "\"")]
                while cursor < raw.count, !stops.contains(raw[cursor]), !isSpace(raw[cursor]) { cursor += 1 }
            }
            if cursor > start { ranges.append(start..<cursor) }
            index = max(cursor, index + key.count)
        }
        return ranges
    }
}
