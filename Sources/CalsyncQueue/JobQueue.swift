import CalsyncJobs
import CalsyncRedis
import Foundation
import Logging

/// A task the worker holds: the job text plus what the engine needs to finish it.
package struct ClaimedTask: Sendable {
    package let type: String
    package let tid: String
    package let fence: String
    /// Retryable failures so far (the run is attempt `attempts + 1`).
    package let attempts: Int
    package let deferrals: Int
    package let raw: [UInt8]
    /// An isolated task (its lease expired twice beside other jobs): the worker claims nothing more until it ends.
    package var runsAlone = false
}

/// Producer and admin operations over the Redis queues, and the engine steps the worker uses.
package final class JobQueue: Sendable {
    /// The Redis client.
    package let redis: RedisClient
    /// The queue configuration.
    package let configuration: QueueConfiguration
    let logger: Logger
    private var prefix: String { configuration.prefix }

    /// Creates the queue over a Redis client.
    package init(redis: RedisClient, configuration: QueueConfiguration, logger: Logger) {
        self.redis = redis
        self.configuration = configuration
        self.logger = logger
    }

    /// The ready list of a type.
    package func readyKey(_ type: String) -> String { "\(prefix):queue:\(type)" }
    /// The scheduled set of a type.
    package func scheduledKey(_ type: String) -> String { "\(prefix):scheduled:\(type)" }
    /// The set of a type's isolated tasks (waiting to run alone on a worker holding nothing).
    package func isolatedKey(_ type: String) -> String { "\(prefix):isolated:\(type)" }

    // MARK: - Producing

    /// Builds the envelope exactly as a producer would and LPUSHes it; returns the job id.
    package func enqueue(type: String, payload: String, id: String? = nil) async throws -> String {
        guard Self.isValidType(type) else {
            throw QueueError(code: .invalidType, message: "job type '\(type)' must be 1-64 characters of a-z, 0-9, _ or -")
        }
        let payloadBytes = Array(payload.utf8)
        var scanner = JSONScanner(payloadBytes)
        guard let (kind, _) = try? scanner.scanDocument(), kind == .object else {
            throw QueueError(code: .invalidPayload, message: "the payload must be a JSON object, e.g. {\"member_id\":\"m1\"}")
        }
        let jobID = id ?? "job-" + UUID().uuidString.lowercased()
        guard Job.idLengths.contains(jobID.count) else {
            throw QueueError(code: .invalidPayload, message: "a job id has 1-128 characters")
        }
        let payloadText = String(decoding: payloadBytes.trimmingWhitespace(), as: UTF8.self)
        let bytes = Array(Self.envelope(id: jobID, type: type, payload: payloadText).utf8)
        _ = try await redis.send(bytes: [Array("LPUSH".utf8), Array(readyKey(type).utf8), bytes])
        return jobID
    }

    /// The job text a producer writes (contract §2); `payload` is a JSON object's text, used as is.
    package static func envelope(id: String, type: String, enqueuedAt: Date = Date(), payload: String) -> String {
        envelope(id: id, type: type, enqueuedAt: EnqueueTime(enqueuedAt), payload: payload)
    }

    /// An `enqueued_at` formatted once, for producers that stamp many envelopes with the same time.
    package struct EnqueueTime: Sendable {
        let text: String
        /// The envelope's head up to `"id":`, written once for all the envelopes stamped with this time.
        let head: String
        /// Formats `date` as RFC 3339 (UTC, milliseconds).
        package init(_ date: Date) {
            text = RFC3339.format(date)
            head = "{\"enqueued_at\":" + JSONText.quoted(text) + ",\"id\":"
        }
    }

    /// The job text a producer writes, with a preformatted `enqueued_at`; `payload` is a JSON object's text, used as is.
    package static func envelope(id: String, type: String, enqueuedAt: EnqueueTime, payload: String) -> String {
        // The head as `jsonEncoder` writes it (sorted keys); the payload, JSON already, goes in verbatim as its
        // last member.
        // One string, written in place (the scheduler writes 100,000 of them a tick).
        var text = enqueuedAt.head
        text.reserveCapacity(enqueuedAt.head.utf8.count + id.utf8.count + type.utf8.count + payload.utf8.count + 24)
        JSONText.appendQuoted(id, to: &text)
        text.append(",\"type\":")
        JSONText.appendQuoted(type, to: &text)
        text.append(",\"payload\":")
        text.append(payload)
        text.append("}")
        return text
    }

    /// The job text a producer writes for an `Encodable` payload, encoded with `JSONEncoder`.
    package static func envelope<Payload: Encodable>(
        id: String, type: String, enqueuedAt: EnqueueTime, payload: Payload
    ) throws -> String {
        envelope(id: id, type: type, enqueuedAt: enqueuedAt, payload: String(decoding: try jsonEncoder.encode(payload), as: UTF8.self))
    }

    /// The encoder of jobs (`Job.jsonEncoder`): sorted keys, so one job always has one text.
    package static var jsonEncoder: JSONEncoder { Job.jsonEncoder }

    /// LPUSHes the bytes as they are (tests and tools pushing hand-made or broken jobs).
    package func enqueue(raw: [UInt8], type: String) async throws {
        _ = try await redis.send(bytes: [Array("LPUSH".utf8), Array(readyKey(type).utf8), raw])
    }

    static func isValidType(_ type: String) -> Bool {
        !type.isEmpty && type.utf8.count <= 64
            && type.utf8.allSatisfy { c in
                (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
                    || (c >= 65 && c <= 90)
            }
    }

    // MARK: - Operations

    /// A snapshot of the queues; types are `knownTypes`, plus every type that has a ready list when
    /// `discoverTypes` (a keyspace scan: for operators, not for every worker every few seconds).
    package func stats(knownTypes: [String], discoverTypes: Bool = true) async throws -> QueueStats {
        var types = Set(knownTypes)
        if discoverTypes {
            for key in try await scan(match: Self.globEscape(prefix) + ":queue:*") {
                types.insert(String(key.dropFirst(prefix.count + ":queue:".count)))
            }
        }
        let ordered = types.sorted()
        var commands: [[String]] = [["TIME"], ["ZCARD", "\(prefix):leases"], ["HLEN", "\(prefix):dead"], ["GET", "\(prefix):dead:trimmed"]]
        for type in ordered {
            commands.append(["LLEN", readyKey(type)])
            commands.append(["ZCARD", scheduledKey(type)])
            commands.append(["LINDEX", readyKey(type), "-1"])
            commands.append(["ZCARD", isolatedKey(type)])
        }
        let replies = try await redis.pipeline(commands)
        guard replies.count == commands.count, let time = replies[0].array, time.count == 2,
            let seconds = time[0].int, let micros = time[1].int
        else { throw QueueError(code: .unexpectedReply, message: "Redis answered TIME unexpectedly") }
        let now = Double(seconds) + Double(micros) / 1_000_000
        var ready: [String: Int] = [:]
        var scheduled: [String: Int] = [:]
        var oldest: Double? = nil
        for (index, type) in ordered.enumerated() {
            let base = 4 + index * 4
            ready[type] = replies[base].int ?? 0
            scheduled[type] = (replies[base + 1].int ?? 0) + (replies[base + 3].int ?? 0)
            if let raw = replies[base + 2].bytes, case .valid(_, let enqueuedAt?, _, _) = JobEnvelope.check(raw, listType: type) {
                let age = max(0, now - enqueuedAt.timeIntervalSince1970)
                oldest = max(oldest ?? 0, age)
            }
        }
        return QueueStats(
            ready: ready, scheduled: scheduled, inFlight: replies[1].int ?? 0, dead: replies[2].int ?? 0,
            deadTrimmed: replies[3].int ?? 0, oldestJobAgeSeconds: oldest)
    }

    /// The job types that have a ready list or scheduled entries but are not in `known`, found by a keyspace
    /// scan; nil when another process of the fleet swept within `every` (one sweep per interval fleet-wide).
    func unknownTypes(known: Set<String>, owner: String, every interval: Duration) async throws -> [String]? {
        let won = try await redis.send(["SET", "\(prefix):sweep", owner, "NX", "PX", String(max(1, interval.milliseconds))])
        if won.isNull { return nil }
        var found = Set<String>()
        for (pattern, lead) in [(":queue:*", ":queue:"), (":scheduled:*", ":scheduled:")] {
            for key in try await scan(match: Self.globEscape(prefix) + pattern) {
                let type = String(key.dropFirst(prefix.count + lead.count))
                if !known.contains(type) { found.insert(type) }
            }
        }
        return found.sorted()
    }

    /// Dead records, newest first, optionally of one type.
    package func deadList(type: String?, limit: Int) async throws -> [DeadRecord] {
        guard limit > 0 else { return [] }
        var records: [DeadRecord] = []
        var start = 0
        let page = type == nil ? limit : max(limit, 200)
        while records.count < limit {
            let ids = try await redis.send(["ZREVRANGE", "\(prefix):dead:index", String(start), String(start + page - 1)]).array ?? []
            if ids.isEmpty { break }
            let values = try await redis.send(["HMGET", "\(prefix):dead"] + ids.compactMap { $0.string }).array ?? []
            for value in values {
                guard let bytes = value.bytes, let record = Self.decodeDead(bytes) else { continue }
                if let type, record.type != type { continue }
                records.append(record)
                if records.count == limit { break }
            }
            if ids.count < page { break }
            start += page
        }
        return records
    }

    /// One dead record by id.
    package func deadShow(id: String) async throws -> DeadRecord? {
        guard let bytes = try await redis.send(["HGET", "\(prefix):dead", id]).bytes else { return nil }
        return Self.decodeDead(bytes)
    }

    /// Puts one dead job back on its ready list (LPUSH of its recorded text); false when there is no such record.
    package func deadRetry(id: String) async throws -> Bool {
        let result = try await redis.evaluate(QueueScripts.deadRetry, keys: [prefix], args: [id]).int ?? 0
        if result < 0 {
            throw QueueError(code: .notRetryable, message: "dead record \(id) has no job type (the job did not parse); purge it instead")
        }
        return result == 1
    }

    /// Puts every dead job (of one type) back on its ready list; returns how many.
    package func deadRetryAll(type: String?) async throws -> Int {
        try await redis.evaluate(QueueScripts.deadRetryAll, keys: [prefix], args: [type ?? ""]).int ?? 0
    }

    /// Deletes one dead record; false when there is none.
    package func deadPurge(id: String) async throws -> Bool {
        (try await redis.evaluate(QueueScripts.deadPurge, keys: [prefix], args: [id]).int ?? 0) == 1
    }

    /// Deletes every dead record, or those whose last failure is older than `olderThan`; returns how many.
    package func deadPurgeAll(olderThan: Duration?) async throws -> Int {
        let arg = olderThan.map { String($0.milliseconds) } ?? ""
        return try await redis.evaluate(QueueScripts.deadPurgeAll, keys: [prefix], args: [arg]).int ?? 0
    }

    /// Decodes an internal dead record (times in ms) into a `DeadRecord`.
    static func decodeDead(_ bytes: [UInt8]) -> DeadRecord? {
        var scanner = JSONScanner(bytes)
        guard let (kind, members) = try? scanner.scanDocument(), kind == .object else { return nil }
        var fields: [String: JSONScanner.Member] = [:]
        for member in members { fields[member.key] = member }
        func string(_ key: String) -> String? {
            guard let m = fields[key], m.kind == .string else { return nil }
            return JSONScanner.decodeString(bytes, m.range)
        }
        func number(_ key: String) -> Double? {
            guard let m = fields[key], m.kind == .number else { return nil }
            return Double(String(decoding: bytes[m.range], as: UTF8.self))
        }
        guard let id = string("id"), let reason = string("reason") else { return nil }
        let first = number("first_failed_at") ?? 0
        let last = number("last_failed_at") ?? first
        return DeadRecord(
            id: id, type: string("type"), reason: reason, error: string("error"),
            httpStatus: number("http_status").map { Int($0) }, attempts: Int(number("attempts") ?? 0),
            firstFailedAt: Date(timeIntervalSince1970: first / 1000), lastFailedAt: Date(timeIntervalSince1970: last / 1000),
            raw: string("raw") ?? "")
    }

    func scan(match pattern: String) async throws -> [String] {
        var cursor = "0"
        var keys: [String] = []
        repeat {
            let reply = try await redis.send(["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"])
            guard let parts = reply.array, parts.count == 2, let next = parts[0].string else {
                throw QueueError(code: .unexpectedReply, message: "Redis answered SCAN unexpectedly")
            }
            cursor = next
            keys.append(contentsOf: (parts[1].array ?? []).compactMap { $0.string })
        } while cursor != "0"
        return keys
    }

    static func globEscape(_ text: String) -> String {
        var out = ""
        for c in text {
            if "*?[]\\".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    // MARK: - Engine steps (the worker's)

    /// Reaps expired leases and claims up to `total` tasks over the (type, cap) pairs, in order. Each call
    /// passes a fresh random nonce, so fences stay unique even after Redis loses recent writes.
    /// `held`: jobs the worker has in flight (an isolated task goes only to a worker holding none).
    package func claim(
        workerID: String, slots: [(type: String, cap: Int)], total: Int, held: Int = 0
    ) async throws -> (nowMs: Int64, tasks: [ClaimedTask]) {
        var args: [String] = [
            String(configuration.leaseDuration.milliseconds), String(configuration.maxLeaseExpiries), workerID,
            String(configuration.deadLetterMaxCount), String(configuration.deadLetterMaxAge.milliseconds), String(total),
            JobLock.randomToken(), String(configuration.maxJobBytes), String(held),
        ]
        for slot in slots {
            args.append(slot.type)
            args.append(String(slot.cap))
        }
        let reply = try await redis.evaluate(QueueScripts.claim, keys: [prefix], args: args)
        guard let items = reply.array, let now = items.first?.int else {
            throw QueueError(code: .unexpectedReply, message: "the claim script answered unexpectedly")
        }
        var tasks: [ClaimedTask] = []
        tasks.reserveCapacity((items.count - 1) / 7)
        var index = 1
        while index + 6 < items.count {
            guard let type = items[index].string, let tid = items[index + 1].string, let fence = items[index + 2].string,
                let raw = items[index + 5].bytes
            else {
                throw QueueError(code: .unexpectedReply, message: "the claim script answered unexpectedly")
            }
            tasks.append(
                ClaimedTask(
                    type: type, tid: tid, fence: fence, attempts: items[index + 3].int ?? 0,
                    deferrals: items[index + 4].int ?? 0, raw: raw, runsAlone: items[index + 6].int == 1))
            index += 7
        }
        return (Int64(now), tasks)
    }

    /// Acknowledges finished tasks; returns, per task, whether it was still held (false: stale fence).
    /// The locks in `releasing` are released in the same call (each only while it holds its token).
    package func ack(_ tasks: [(tid: String, fence: String)], releasing locks: [JobLock] = []) async throws -> [Bool] {
        if tasks.isEmpty { return [] }
        var args: [String] = []
        args.reserveCapacity(tasks.count * 2 + locks.count)
        for task in tasks {
            args.append(task.tid)
            args.append(task.fence)
        }
        args.append(contentsOf: locks.map(\.token))
        let reply = try await redis.evaluate(QueueScripts.ack, keys: [prefix] + locks.map(\.key), args: args)
        return (reply.array ?? []).map { $0.int == 1 }
    }

    /// Releases locks a job held (each only while it holds its token).
    func releaseLocks(_ locks: [JobLock]) async throws {
        if locks.isEmpty { return }
        _ = try await redis.evaluate(QueueScripts.releaseLocks, keys: locks.map(\.key), args: locks.map(\.token))
    }

    /// Extends the leases of held tasks and the locks their jobs hold; returns the tids no longer held
    /// (stale fence, or a lock taken over).
    func renew(_ tasks: [(tid: String, fence: String, locks: [JobLock])]) async throws -> [String] {
        if tasks.isEmpty { return [] }
        var args = [String(configuration.leaseDuration.milliseconds)]
        var keys = [prefix]
        var tokens: [String] = []
        for task in tasks {
            args.append(task.tid)
            args.append(task.fence)
            args.append(String(task.locks.count))
            for lock in task.locks {
                keys.append(lock.key)
                tokens.append(lock.token)
            }
        }
        let reply = try await redis.evaluate(QueueScripts.renew, keys: keys, args: args + tokens)
        return (reply.array ?? []).compactMap { $0.string }
    }

    /// Stores the redacted text of a held task (so deaths decided in Redis never keep a secret).
    func annotate(tid: String, fence: String, redacted: [UInt8]) async throws {
        _ = try await redis.evaluate(
            QueueScripts.annotate, keys: [prefix], byteArgs: [Array(tid.utf8), Array(fence.utf8), redacted])
    }

    /// The outcome of a `fail` step.
    enum FailResult: Equatable {
        /// The fence was stale: nothing changed.
        case stale
        /// Scheduled to run again.
        case scheduled
        /// Dead-lettered under this record id.
        case dead(recordID: String)
    }

    /// The ways a run can end without completing.
    enum FailAction: String {
        case retry, `defer`, dead, handback
    }

    /// Retries, defers, dead-letters or hands back a held task (atomically; a stale fence changes nothing).
    func fail(
        _ action: FailAction, tid: String, fence: String, delay: Duration = .zero, reason: String = "",
        error: String = "", httpStatus: Int? = nil, recordID: String? = nil, redacted: [UInt8]? = nil
    ) async throws -> FailResult {
        let limit: Int
        switch action {
        case .retry: limit = configuration.retry.maxAttempts
        case .defer: limit = configuration.maxDeferrals
        default: limit = 0
        }
        let args: [[UInt8]] = [
            Array(action.rawValue.utf8), Array(tid.utf8), Array(fence.utf8), Array(String(delay.milliseconds).utf8),
            Array(String(limit).utf8), Array(String(configuration.maxJobAge.milliseconds).utf8), Array(reason.utf8),
            Array(String(error.prefix(2000)).utf8), Array((httpStatus.map(String.init) ?? "").utf8),
            Array((recordID ?? "").utf8), redacted ?? [], Array(String(configuration.deadLetterMaxCount).utf8),
            Array(String(configuration.deadLetterMaxAge.milliseconds).utf8),
        ]
        let reply = try await redis.evaluate(QueueScripts.fail, keys: [prefix], byteArgs: args)
        switch reply {
        case .integer(0): return .stale
        case .integer(1): return .scheduled
        case .array(let parts) where parts.count == 2: return .dead(recordID: parts[1].string ?? "")
        default: throw QueueError(code: .unexpectedReply, message: "the fail script answered unexpectedly")
        }
    }
}

extension Array where Element == UInt8 {
    /// The bytes without leading and trailing JSON whitespace.
    func trimmingWhitespace() -> ArraySlice<UInt8> {
        func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }
        var start = startIndex
        var end = endIndex
        while start < end, isSpace(self[start]) { start += 1 }
        while end > start, isSpace(self[end - 1]) { end -= 1 }
        return self[start..<end]
    }
}
