import CalsyncJobs
import CalsyncSync
import Foundation
import NIOCore

/// A JSON object written member by member, for the bodies every export sends (`JSONEncoder` cost about 3 % of the
/// worker's CPU per export; `make bench`): the same JSON, strings escaped as `JSONEncoder` escapes them (a plain
/// string is copied as is).
package struct JSONObjectText: Sendable {
    private var text = "{"
    private var empty = true

    /// Starts an empty object.
    package init() {}

    /// Appends `"key":` (with the comma before it when needed).
    private mutating func key(_ key: String) {
        if !empty { text += "," }
        empty = false
        text += JSONText.quoted(key)
        text += ":"
    }

    /// A string member; a `nil` value is left out (as `encodeIfPresent` does).
    package mutating func string(_ key: String, _ value: String?) {
        guard let value else { return }
        self.key(key)
        text += JSONText.quoted(value)
    }

    /// A boolean member.
    package mutating func bool(_ key: String, _ value: Bool) {
        self.key(key)
        text += value ? "true" : "false"
    }

    /// An object member.
    package mutating func object(_ key: String, _ value: JSONObjectText) {
        self.key(key)
        text += value.closed
    }

    /// An array-of-objects member.
    package mutating func array(_ key: String, _ values: [JSONObjectText]) {
        self.key(key)
        text += "["
        for (index, value) in values.enumerated() {
            if index > 0 { text += "," }
            text += value.closed
        }
        text += "]"
    }

    /// The object's text, braces included.
    package var closed: String { text + "}" }

    /// The object's UTF-8 bytes (a request body).
    package var bytes: [UInt8] { Array(closed.utf8) }
}

extension HTTPResult {
    /// Reads the `id` and the optional version tag (`etag`, or Graph's `@odata.etag`) of a written or read event
    /// without `JSONDecoder` (about 2 % of the worker's CPU per export); a malformed body, a missing `id` or a
    /// field of the wrong type is the same `malformed_response` that ``decode(_:what:)`` gives.
    package func decodeIDAndETag(etagKey: String = "etag", what: String = "answer") throws -> (id: String, etag: String?) {
        let bytes = Array(body.readableBytesView)
        func malformed(_ detail: String) -> ProviderError {
            .retryable(
                .malformedResponse, status: status,
                "\(serviceName) sent a malformed \(what): \(detail). It will be retried; if it persists, the provider's API may have changed.")
        }
        var scanner = JSONScanner(bytes)
        guard let (kind, members) = try? scanner.scanDocument() else { throw malformed("the body is not valid JSON") }
        guard kind == .object else { throw malformed("the body is not a JSON object") }
        var id: String?
        var idSeen = false
        var etag: String?
        for member in members {
            if member.key == "id" {
                idSeen = true
                guard member.kind == .string, let value = JSONScanner.decodeString(bytes, member.range) else {
                    throw malformed("field `id` has the wrong type")
                }
                id = value
            } else if member.key == etagKey {
                switch member.kind {
                case .null: etag = nil
                case .string: etag = JSONScanner.decodeString(bytes, member.range)
                default: throw malformed("field `\(etagKey)` has the wrong type")
                }
            }
        }
        guard let id else { throw malformed(idSeen ? "field `id` has the wrong type" : "field `id` is missing") }
        return (id, etag)
    }
}
