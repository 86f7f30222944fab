/// A small validating JSON scanner over bytes: it finds value ranges without building a tree,
/// so the engine can hand out the payload's exact text and redact secrets in place.
package struct JSONScanner {
    package enum Kind: Equatable { case object, array, string, number, bool, null }

    package struct Failure: Error {}

    /// One member of the top-level object.
    package struct Member {
        package let key: String
        package let kind: Kind
        package let range: Range<Int>
    }

    private let b: [UInt8]
    private var i = 0
    private let maxDepth = 256
    /// Value ranges of members whose key is a secret (filled while scanning).
    package private(set) var secretRanges: [Range<Int>] = []
    private let secretKeys: Set<String>

    package init(_ bytes: [UInt8], secretKeys: Set<String> = []) {
        self.b = bytes
        self.secretKeys = secretKeys
    }

    /// Scans the whole text as one JSON value; returns the members when it is an object.
    package mutating func scanDocument() throws(Failure) -> (Kind, [Member]) {
        skipWhitespace()
        var members: [Member] = []
        let kind: Kind
        if i < b.count, b[i] == UInt8(ascii: "{") {
            kind = .object
            try scanObject(depth: 1, collect: &members)
        } else {
            var ignored: [Member] = []
            kind = try scanValue(depth: 1, collect: &ignored, top: false)
        }
        skipWhitespace()
        guard i == b.count else { throw Failure() }
        return (kind, members)
    }

    /// Decodes the JSON string at `range` (which includes the quotes).
    package static func decodeString(_ bytes: [UInt8], _ range: Range<Int>) -> String? {
        var scanner = JSONScanner(bytes)
        scanner.i = range.lowerBound
        return try? scanner.scanString(decode: true)
    }

    private mutating func skipWhitespace() {
        while i < b.count {
            switch b[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    private mutating func scanValue(depth: Int, collect: inout [Member], top: Bool) throws(Failure) -> Kind {
        guard depth <= maxDepth, i < b.count else { throw Failure() }
        switch b[i] {
        case UInt8(ascii: "{"):
            var nested: [Member] = []
            try scanObject(depth: depth + 1, collect: &nested)
            return .object
        case UInt8(ascii: "["):
            i += 1
            skipWhitespace()
            if i < b.count, b[i] == UInt8(ascii: "]") {
                i += 1
                return .array
            }
            while true {
                skipWhitespace()
                _ = try scanValue(depth: depth + 1, collect: &collect, top: false)
                skipWhitespace()
                guard i < b.count else { throw Failure() }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                if b[i] == UInt8(ascii: "]") { i += 1; return .array }
                throw Failure()
            }
        case UInt8(ascii: "\""):
            _ = try scanString(decode: false)
            return .string
        case UInt8(ascii: "t"): try literal("true"); return .bool
        case UInt8(ascii: "f"): try literal("false"); return .bool
        case UInt8(ascii: "n"): try literal("null"); return .null
        default:
            try scanNumber()
            return .number
        }
    }

    private mutating func scanObject(depth: Int, collect: inout [Member]) throws(Failure) {
        guard depth <= maxDepth else { throw Failure() }
        i += 1  // {
        skipWhitespace()
        if i < b.count, b[i] == UInt8(ascii: "}") {
            i += 1
            return
        }
        while true {
            skipWhitespace()
            guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw Failure() }
            let key = try scanString(decode: true) ?? ""
            skipWhitespace()
            guard i < b.count, b[i] == UInt8(ascii: ":") else { throw Failure() }
            i += 1
            skipWhitespace()
            let start = i
            var ignored: [Member] = []
            let kind = try scanValue(depth: depth, collect: &ignored, top: false)
            let range = start..<i
            if depth == 1 { collect.append(Member(key: key, kind: kind, range: range)) }
            if secretKeys.contains(key) { secretRanges.append(range) }
            skipWhitespace()
            guard i < b.count else { throw Failure() }
            if b[i] == UInt8(ascii: ",") { i += 1; continue }
            if b[i] == UInt8(ascii: "}") { i += 1; return }
            throw Failure()
        }
    }

    private mutating func literal(_ word: StaticString) throws(Failure) {
        let count = word.utf8CodeUnitCount
        guard i + count <= b.count else { throw Failure() }
        let ok = word.withUTF8Buffer { buffer in
            for k in 0..<count where b[i + k] != buffer[k] { return false }
            return true
        }
        guard ok else { throw Failure() }
        i += count
    }

    private mutating func scanNumber() throws(Failure) {
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
        if i < b.count, b[i] == UInt8(ascii: "-") { i += 1 }
        guard i < b.count, isDigit(b[i]) else { throw Failure() }
        if b[i] == 48 {
            i += 1
        } else {
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            guard i < b.count, isDigit(b[i]) else { throw Failure() }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
        if i < b.count, b[i] == UInt8(ascii: "e") || b[i] == UInt8(ascii: "E") {
            i += 1
            if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") { i += 1 }
            guard i < b.count, isDigit(b[i]) else { throw Failure() }
            while i < b.count, isDigit(b[i]) { i += 1 }
        }
    }

    /// Scans a string starting at its opening quote; returns its decoded text when `decode`.
    private mutating func scanString(decode: Bool) throws(Failure) -> String? {
        guard i < b.count, b[i] == UInt8(ascii: "\"") else { throw Failure() }
        i += 1
        let start = i
        var decoded: [UInt8]? = nil
        while true {
            guard i < b.count else { throw Failure() }
            let c = b[i]
            if c == UInt8(ascii: "\"") {
                let end = i
                i += 1
                guard decode else { return nil }
                if let decoded { return String(decoding: decoded, as: UTF8.self) }
                return String(decoding: b[start..<end], as: UTF8.self)
            }
            if c < 0x20 { throw Failure() }
            if c == UInt8(ascii: "\\") {
                if decode, decoded == nil { decoded = Array(b[start..<i]) }
                i += 1
                guard i < b.count else { throw Failure() }
                let e = b[i]
                i += 1
                var scalar: UInt32? = nil
                switch e {
                case UInt8(ascii: "\""): scalar = 0x22
                case UInt8(ascii: "\\"): scalar = 0x5C
                case UInt8(ascii: "/"): scalar = 0x2F
                case UInt8(ascii: "b"): scalar = 0x08
                case UInt8(ascii: "f"): scalar = 0x0C
                case UInt8(ascii: "n"): scalar = 0x0A
                case UInt8(ascii: "r"): scalar = 0x0D
                case UInt8(ascii: "t"): scalar = 0x09
                case UInt8(ascii: "u"):
                    var value = try hex4()
                    if (0xD800...0xDBFF).contains(value), i + 1 < b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u") {
                        i += 2
                        let low = try hex4()
                        if (0xDC00...0xDFFF).contains(low) {
                            value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            value = 0xFFFD
                        }
                    }
                    scalar = value
                default:
                    throw Failure()
                }
                if decode, let scalar {
                    let unicode = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    decoded?.append(contentsOf: Array(String(Character(unicode)).utf8))
                }
                continue
            }
            if decode, decoded != nil { decoded?.append(c) }
            i += 1
        }
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard i + 4 <= b.count else { throw Failure() }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = b[i]
            let digit: UInt32
            switch c {
            case 48...57: digit = UInt32(c - 48)
            case 65...70: digit = UInt32(c - 55)
            case 97...102: digit = UInt32(c - 87)
            default: throw Failure()
            }
            value = value * 16 + digit
            i += 1
        }
        return value
    }
}
