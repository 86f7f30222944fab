import Foundation

/// A job payload of the contract (§2), decoded strictly: wrong types, missing fields and
/// broken rules are refused with a message that names the field.
public protocol JobPayload: Decodable, Sendable {
    /// The job type whose payload this is.
    static var jobType: String { get }
    /// Checks the rules a decoder cannot express (lengths, conditional fields, time order).
    func validate() throws(JobPayloadError)
}

extension JobPayload {
    /// Decodes and validates a payload from the raw JSON text of the job's `payload` object.
    public static func decode(from payload: [UInt8]) throws(JobPayloadError) -> Self {
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
public struct JobPayloadError: Error, Sendable, CustomStringConvertible {
    /// A message for dead-letter records and logs (never contains the field's value).
    public let message: String

    /// Creates an error with a message.
    public init(_ message: String) { self.message = message }

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
    public var description: String { message }
}

/// A secret string from a payload (authorization code, password): never printed.
public struct SecretString: Decodable, Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The secret itself; hand it only to the provider that needs it.
    public let value: String

    /// Wraps a secret.
    public init(_ value: String) { self.value = value }

    public init(from decoder: any Decoder) throws {
        self.value = try decoder.singleValueContainer().decode(String.self)
    }

    /// Always `[redacted]`.
    public var description: String { "[redacted]" }
    /// Always `[redacted]`.
    public var debugDescription: String { "[redacted]" }
}

/// An instant given as RFC 3339 text with an offset (`Z` or `±hh:mm`).
public struct RFC3339Instant: Decodable, Sendable, Equatable, Hashable {
    /// The instant.
    public let date: Date

    /// Wraps an instant.
    public init(_ date: Date) { self.date = date }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let date = Self.parse(text) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: decoder.codingPath,
                debugDescription: "must be an RFC 3339 time with an offset, like 2026-11-23T14:00:00Z"))
        }
        self.date = date
    }

    /// Parses `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm)`; nil for anything else.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= bytes.count else { return nil }
            var value = 0
            for b in bytes[from..<(from + count)] {
                guard b >= 48, b <= 57 else { return nil }
                value = value * 10 + Int(b - 48)
            }
            return value
        }
        guard bytes.count >= 20,
            let year = digits(0, 4), bytes[4] == 45, let month = digits(5, 2), bytes[7] == 45,
            let day = digits(8, 2), bytes[10] == 84, let hour = digits(11, 2), bytes[13] == 58,
            let minute = digits(14, 2), bytes[16] == 58, let second = digits(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < bytes.count, bytes[index] == 46 {
            index += 1
            var scale = 0.1
            let start = index
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                fraction += Double(bytes[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        if bytes[index] == 90, index + 1 == bytes.count {
            offset = 0
        } else if bytes[index] == 43 || bytes[index] == 45, index + 6 == bytes.count,
            let oh = digits(index + 1, 2), bytes[index + 3] == 58, let om = digits(index + 4, 2), oh < 24, om < 60
        {
            offset = (oh * 3600 + om * 60) * (bytes[index] == 45 ? -1 : 1)
        } else {
            return nil
        }
        var components = DateComponents()
        components.year = year
        components.month = month
        components.day = day
        components.hour = hour
        components.minute = minute
        components.second = second
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        guard let base = calendar.date(from: components),
            calendar.component(.day, from: base) == day  // refuses 2026-02-31
        else { return nil }
        return base.addingTimeInterval(fraction - Double(offset))
    }
}

func validateID(_ value: String, _ field: String) throws(JobPayloadError) {
    guard !value.isEmpty, value.count <= 128 else {
        throw JobPayloadError("payload.\(field) must be 1 to 128 characters")
    }
}
