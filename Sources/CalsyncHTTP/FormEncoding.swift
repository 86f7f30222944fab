import Foundation

/// Percent-encoding for URLs and `application/x-www-form-urlencoded` bodies.
package enum URLEncoding {
    private static func isUnreserved(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39)
            || c == 0x2D || c == 0x2E || c == 0x5F || c == 0x7E
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters (safe for a path segment or query value).
    package static func component(_ s: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        let hex = Array("0123456789ABCDEF".utf8)
        for c in s.utf8 {
            if isUnreserved(c) {
                out.append(c)
            } else {
                out.append(0x25)
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `k=v&k2=v2` with every key and value percent-encoded.
    package static func form(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(component($0.0))=\(component($0.1))" }.joined(separator: "&")
    }

    /// `base?k=v&…` (or `base` when there are no pairs).
    package static func url(_ base: String, query pairs: [(String, String)]) -> String {
        pairs.isEmpty ? base : base + (base.contains("?") ? "&" : "?") + form(pairs)
    }

    /// The `scheme://host[:port]` part of an absolute URL, lowercased, or nil.
    package static func origin(_ url: String) -> String? {
        guard let schemeEnd = url.range(of: "://") else { return nil }
        let afterScheme = url[schemeEnd.upperBound...]
        let host = afterScheme.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !host.isEmpty else { return nil }
        return (url[..<schemeEnd.upperBound] + host).lowercased()
    }
}
