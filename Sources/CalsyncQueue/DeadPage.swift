import CalsyncJobs
import CalsyncRedis
import Foundation

/// What the dead-jobs page filters on: job type, reason, and a text found in the id, the error or the job.
package struct DeadFilter: Sendable, Equatable {
    /// Exact job type, or nil for all.
    package var type: String?
    /// Exact reason (`attempts_exhausted`, …), or nil for all.
    package var reason: String?
    /// Case-insensitive text searched in the id, the error and the (redacted) job text, or nil.
    package var text: String?

    /// Creates a filter; empty strings mean "any".
    package init(type: String? = nil, reason: String? = nil, text: String? = nil) {
        self.type = type.flatMap { $0.isEmpty ? nil : $0 }
        self.reason = reason.flatMap { $0.isEmpty ? nil : $0 }
        self.text = text.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// True when nothing is filtered.
    package var isEmpty: Bool { type == nil && reason == nil && text == nil }

    /// The exact bytes a stored record (compact JSON) must contain to match the type and reason: `"type":"…"`.
    /// Text inside the record's strings is escaped (`\"type\":…`), so only the field itself can contain them.
    var needles: [[UInt8]] {
        var needles: [[UInt8]] = []
        func quoted(_ value: String) -> String {
            var out = ""
            for c in value.unicodeScalars {
                if c == "\"" || c == "\\" || c.value < 0x20 || c == "/" { return "" }
                out.unicodeScalars.append(c)
            }
            return out
        }
        if let type, !quoted(type).isEmpty { needles.append(Array("\"type\":\"\(type)\"".utf8)) }
        if let reason, !quoted(reason).isEmpty { needles.append(Array("\"reason\":\"\(reason)\"".utf8)) }
        return needles
    }

    /// Whether `bytes` contains every needle: a cheap test that skips decoding most records a filter rejects.
    static func contains(_ bytes: [UInt8], all needles: [[UInt8]]) -> Bool {
        for needle in needles where !contains(bytes, needle) { return false }
        return true
    }

    static func contains(_ bytes: [UInt8], _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, bytes.count >= needle.count else { return needle.isEmpty }
        return bytes.withUnsafeBufferPointer { hay in
            needle.withUnsafeBufferPointer { pin in
                var i = 0
                let last = hay.count - pin.count
                while i <= last {
                    if hay[i] == first {
                        var j = 1
                        while j < pin.count, hay[i + j] == pin[j] { j += 1 }
                        if j == pin.count { return true }
                    }
                    i += 1
                }
                return false
            }
        }
    }

    /// Whether `record` passes the filter.
    package func matches(_ record: DeadRecord) -> Bool {
        if let type, record.type != type { return false }
        if let reason, record.reason != reason { return false }
        if let text {
            let options: String.CompareOptions = [.caseInsensitive]
            if record.id.range(of: text, options: options) == nil, (record.error ?? "").range(of: text, options: options) == nil,
                record.raw.range(of: text, options: options) == nil
            {
                return false
            }
        }
        return true
    }
}

/// A position in the dead index, newest first: the last failure time (ms) reached and how many records at exactly
/// that time were already passed. Its text form (`<ms>:<skip>`) goes into page links.
package struct DeadCursor: Sendable, Equatable, CustomStringConvertible {
    /// The score (last failure, ms) of the last record passed.
    package var score: Int64
    /// Records with exactly `score` already passed.
    package var skip: Int

    /// Creates a cursor.
    package init(score: Int64, skip: Int) {
        self.score = score
        self.skip = skip
    }

    /// Parses `<ms>:<skip>`; nil for anything else.
    package init?(_ text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let score = Int64(parts[0]), let skip = Int(parts[1]), skip >= 0 else { return nil }
        self.init(score: score, skip: skip)
    }

    /// `<ms>:<skip>`.
    package var description: String { "\(score):\(skip)" }
}

/// One page of dead records and where the next one starts.
package struct DeadPage: Sendable {
    /// The matching records, newest first.
    package var records: [DeadRecord]
    /// Where the next page starts; nil at the end of the index.
    package var next: DeadCursor?
    /// Index entries read to build the page.
    package var scanned: Int
    /// True when the page stopped at the scan budget before it was full (a rare filter over many records).
    package var budgetReached: Bool
}

extension JobQueue {
    /// One page of dead records matching `filter`, newest first, from `cursor`: it reads the index by score from
    /// the cursor (never by offset from the top), so a page costs the same at record 100 as at record 100,000.
    /// At most `scanBudget` index entries are read; a filter that matches rarely returns a short page with a cursor.
    package func deadPage(
        filter: DeadFilter, after cursor: DeadCursor?, limit: Int, scanBudget: Int = 5_000
    ) async throws -> DeadPage {
        let index = "\(configuration.prefix):dead:index"
        var position = cursor
        var records: [DeadRecord] = []
        var scanned = 0
        let chunk = filter.isEmpty ? max(1, limit) : min(1_000, max(limit, 100))
        let needles = filter.needles
        while records.count < limit, scanned < scanBudget {
            let max = position.map { String($0.score) } ?? "+inf"
            let reply = try await redis.send([
                "ZREVRANGEBYSCORE", index, max, "-inf", "WITHSCORES", "LIMIT", String(position?.skip ?? 0), String(chunk),
            ])
            let flat = reply.array ?? []
            var entries: [(id: String, score: Int64)] = []
            var i = 0
            while i + 1 < flat.count {
                if let id = flat[i].string, let score = flat[i + 1].string.flatMap({ Double($0) }) {
                    entries.append((id, Int64(score)))
                }
                i += 2
            }
            if entries.isEmpty {
                return DeadPage(records: records, next: nil, scanned: scanned, budgetReached: false)
            }
            let values = try await redis.send(["HMGET", "\(configuration.prefix):dead"] + entries.map(\.id)).array ?? []
            for (offset, entry) in entries.enumerated() {
                scanned += 1
                if let current = position, current.score == entry.score {
                    position = DeadCursor(score: entry.score, skip: current.skip + 1)
                } else {
                    position = DeadCursor(score: entry.score, skip: 1)
                }
                guard offset < values.count, let bytes = values[offset].bytes, DeadFilter.contains(bytes, all: needles),
                    let record = Self.decodeDead(bytes)
                else { continue }
                if filter.matches(record) {
                    records.append(record)
                    if records.count == limit { break }
                }
            }
            if entries.count < chunk, records.count < limit {
                return DeadPage(records: records, next: nil, scanned: scanned, budgetReached: false)
            }
        }
        return DeadPage(records: records, next: position, scanned: scanned, budgetReached: records.count < limit)
    }

    /// The ids of every dead record matching `filter` (at most `limit`), for "retry/purge all matching".
    package func deadMatchingIDs(filter: DeadFilter, limit: Int = 1_000_000) async throws -> [String] {
        var ids: [String] = []
        var cursor: DeadCursor? = nil
        repeat {
            let page = try await deadPage(filter: filter, after: cursor, limit: 1_000, scanBudget: 20_000)
            ids += page.records.map(\.id)
            cursor = page.next
        } while cursor != nil && ids.count < limit
        return Array(ids.prefix(limit))
    }

    /// Dead records per job type, as counted by the engine when records are written, retried and purged
    /// (records written before this counter existed are not in it; `QueueStats.dead` is the exact total).
    package func deadCountsByType() async throws -> [String: Int] {
        let flat = try await redis.send(["HGETALL", "\(configuration.prefix):dead:types"]).array ?? []
        var counts: [String: Int] = [:]
        var i = 0
        while i + 1 < flat.count {
            if let type = flat[i].string, let n = flat[i + 1].string.flatMap({ Int($0) }), n > 0 { counts[type] = n }
            i += 2
        }
        return counts
    }
}
