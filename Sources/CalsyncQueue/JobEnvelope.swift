import CalsyncJobs
import Foundation

/// The result of checking a job's envelope (contract §2).
enum JobEnvelope {
    /// A valid envelope.
    case valid(id: String, enqueuedAt: Date?, payload: [UInt8], redacted: [UInt8]?)
    /// Not a valid job: `id` is the job id when one could be read; `redacted` the text with secrets hidden when it parsed.
    case invalid(reason: String, id: String?, redacted: [UInt8]?)

    /// Checks `raw` taken from the list of `listType`.
    static func check(_ raw: [UInt8], listType: String) -> JobEnvelope {
        var scanner = JSONScanner(raw, secretKeys: SecretRedaction.secretKeys)
        guard let (kind, members) = try? scanner.scanDocument() else {
            return .invalid(reason: "the job is not valid JSON", id: nil, redacted: nil)
        }
        let redacted = SecretRedaction.apply(scanner.secretRanges, to: raw)
        guard kind == .object else {
            return .invalid(reason: "the job is not a JSON object", id: nil, redacted: redacted)
        }
        func member(_ key: String) -> JSONScanner.Member? { members.last(where: { $0.key == key }) }
        func string(_ m: JSONScanner.Member) -> String? { JSONScanner.decodeString(raw, m.range) }

        var id: String? = nil
        if let m = member("id"), m.kind == .string, let text = string(m), Job.idLengths.contains(text.count) {
            id = text
        }
        guard let id else {
            return .invalid(reason: "the job has no valid \"id\" (a string of 1-128 characters)", id: nil, redacted: redacted)
        }
        guard let t = member("type"), t.kind == .string, let type = string(t) else {
            return .invalid(reason: "the job has no \"type\" string", id: id, redacted: redacted)
        }
        guard type == listType else {
            return .invalid(reason: "the job's \"type\" does not match its queue \(listType)", id: id, redacted: redacted)
        }
        var enqueuedAt: Date? = nil
        if let e = member("enqueued_at"), e.kind != .null {
            guard e.kind == .string, let text = string(e), let date = RFC3339.parse(Array(text.utf8)) else {
                return .invalid(reason: "the job's \"enqueued_at\" is not RFC 3339", id: id, redacted: redacted)
            }
            enqueuedAt = date
        }
        guard let p = member("payload"), p.kind == .object else {
            return .invalid(reason: "the job's \"payload\" is not an object", id: id, redacted: redacted)
        }
        return .valid(id: id, enqueuedAt: enqueuedAt, payload: Array(raw[p.range]), redacted: redacted)
    }
}
