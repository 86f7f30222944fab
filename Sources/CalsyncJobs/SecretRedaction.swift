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
}
