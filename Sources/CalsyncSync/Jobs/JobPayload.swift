import CalsyncJobs
import Foundation

/// A job payload of the contract (§2), decoded strictly: wrong types, missing fields and
/// broken rules are refused with a message that names the field.
package protocol JobPayload: Decodable, Sendable {
    /// The job type whose payload this is.
    static var jobType: String { get }
    /// Checks the rules a decoder cannot express (lengths, conditional fields, time order).
    func validate() throws(JobPayloadError)
    /// The payload read without `JSONDecoder` when it is plainly well formed; `nil` leaves it to the decoder.
    static func decodeWellFormed(_ payload: [UInt8]) -> Self?
}

extension JobPayload {
    /// No hand-written reader: the decoder reads every payload.
    package static func decodeWellFormed(_ payload: [UInt8]) -> Self? { nil }

    /// Decodes and validates a payload from the raw JSON text of the job's `payload` object.
    package static func decode(from payload: [UInt8]) throws(JobPayloadError) -> Self {
        if let value = decodeWellFormed(payload) {
            try value.validate()
            return value
        }
        let value: Self
        do {
            value = try JSONDecoder().decode(Self.self, from: Data(payload))
        } catch let error as DecodingError {
            throw JobPayloadError(describing: error)
        } catch let error as JobPayloadError {
            throw error
        } catch {
            throw JobPayloadError("payload is not valid JSON")
        }
        try value.validate()
        return value
    }
}

/// Why a payload broke its schema; the message names the field and says what was expected.
package struct JobPayloadError: Error, Sendable, CustomStringConvertible {
    /// A message for dead-letter records and logs (never contains the field's value).
    package let message: String

    /// Creates an error with a message.
    package init(_ message: String) { self.message = message }

    init(describing error: DecodingError) {
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { key in key.intValue.map { "[\($0)]" } ?? key.stringValue }
            return (["payload"] + keys).joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            let full = DecodingError.Context(codingPath: context.codingPath + [key], debugDescription: "")
            self.message = "\(path(full)) is required"
        case .typeMismatch(let type, let context):
            self.message = "\(path(context)) must be \(Self.describe(type))"
        case .valueNotFound(let type, let context):
            self.message = "\(path(context)) must be \(Self.describe(type)), not null"
        case .dataCorrupted(let context):
            self.message = context.codingPath.isEmpty
                ? "payload is not valid JSON" : "\(path(context)): \(context.debugDescription)"
        @unknown default:
            self.message = "payload does not match its schema"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Bool.Type: "a boolean (true or false)"
        case is [String: Any].Type: "an object"
        default: "a valid \(type)"
        }
    }

    /// The message.
    package var description: String { message }
}

/// A secret string from a payload (authorization code, password): never printed.
package struct SecretString: Decodable, Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The secret itself; hand it only to the provider that needs it.
    package let value: String

    /// Wraps a secret.
    package init(_ value: String) { self.value = value }

    package init(from decoder: any Decoder) throws {
        self.value = try decoder.singleValueContainer().decode(String.self)
    }

    /// Always `[redacted]`.
    package var description: String { "[redacted]" }
    /// Always `[redacted]`.
    package var debugDescription: String { "[redacted]" }
}

/// An instant given as RFC 3339 text with an offset (`Z` or `±hh:mm`).
package struct RFC3339Instant: Codable, Sendable, Equatable, Hashable {
    /// The instant.
    package let date: Date

    /// Wraps an instant.
    package init(_ date: Date) { self.date = date }

    package init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = Self.parse(text) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "must be an RFC 3339 time with an offset, like 2026-11-23T14:00:00Z"))
        }
        self.date = date
    }

    /// Writes the instant in UTC with milliseconds, e.g. `2026-11-23T14:00:00.000Z`.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(RFC3339.format(date))
    }

    /// Parses `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`; nil for anything else, a time without an offset included.
    package static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        // The contract's form: `T` between date and time (the JSON Schema's pattern says the same).
        guard bytes.count > 10, bytes[10] == UInt8(ascii: "T"), let last = bytes.last else { return nil }
        let hasOffset: Bool
        if last == UInt8(ascii: "Z") {
            hasOffset = true
        } else if bytes.count >= 6 {
            let tail = bytes.suffix(6)
            let sign = tail[tail.startIndex]
            hasOffset = (sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-")) && tail[tail.startIndex + 3] == UInt8(ascii: ":")
        } else {
            hasOffset = false
        }
        return hasOffset ? RFC3339.parse(text) : nil
    }
}

func validateID(_ value: String, _ field: String) throws(JobPayloadError) {
    guard Job.idLengths.contains(value.count) else {
        throw JobPayloadError("payload.\(field) must be \(Job.idLengths.lowerBound) to \(Job.idLengths.upperBound) characters")
    }
}
