import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import Foundation
import Logging

/// The operations behind `calsync queues`, `dead …` and `enqueue`: each returns the text to print.
package struct QueueOperations: Sendable {
    /// The queue engine used.
    package let queue: JobQueue
    private let redis: RedisClient

    /// Connects to Redis (checked with PING: `CalsyncAppError.unavailable` when it does not answer), runs
    /// `body` with the operations while the client runs, then closes it.
    package static func withConnection<Result: Sendable>(
        configuration: CalsyncConfiguration, logger: Logger, _ body: (QueueOperations) async throws -> Result
    ) async throws -> Result {
        let redisConfiguration = configuration.redis
        try await ServiceChecks.checkRedis(redisConfiguration, logger: logger)
        let redis = RedisClient(configuration: redisConfiguration, logger: logger, poolSize: 1)
        let operations = QueueOperations(
            queue: JobQueue(redis: redis, configuration: configuration.queue, logger: logger), redis: redis)
        return try await redis.withRunning { try await body(operations) }
    }

    // MARK: queues

    /// Depth of each ready list, scheduled, in flight, dead and the oldest job's age: a table, or JSON.
    package func queues(json: Bool) async throws -> String {
        let stats = try await run { try await queue.stats(knownTypes: CalsyncConfiguration.contractJobTypes) }
        if json { return try Self.encode(stats) }
        let types = Set(stats.ready.keys).union(stats.scheduled.keys).sorted()
        let width = max(4, types.map(\.count).max() ?? 0)
        func pad(_ text: String, _ n: Int) -> String { text + String(repeating: " ", count: max(0, n - text.count)) }
        func padLeft(_ text: String, _ n: Int) -> String { String(repeating: " ", count: max(0, n - text.count)) + text }
        var lines = ["\(pad("TYPE", width))  \(padLeft("READY", 9))  \(padLeft("SCHEDULED", 9))"]
        for type in types {
            lines.append(
                "\(pad(type, width))  \(padLeft(String(stats.ready[type] ?? 0), 9))  "
                    + padLeft(String(stats.scheduled[type] ?? 0), 9))
        }
        lines.append("")
        lines.append("in flight: \(stats.inFlight)")
        lines.append("dead:      \(stats.dead)" + (stats.deadTrimmed > 0 ? " (\(stats.deadTrimmed) trimmed so far)" : ""))
        lines.append("oldest ready job: " + (stats.oldestJobAgeSeconds.map(Self.age) ?? "none"))
        return lines.joined(separator: "\n")
    }

    // MARK: dead

    /// Dead records, newest first: a table, or a JSON array of contract §5 records.
    package func deadList(type: String?, limit: Int, json: Bool) async throws -> String {
        let records = try await run { try await queue.deadList(type: type, limit: limit) }
        if json { return try Self.encode(records) }
        if records.isEmpty { return "no dead jobs" + (type.map { " of type \($0)" } ?? "") }
        var lines: [String] = []
        for record in records {
            var line = "\(RFC3339.formatSeconds(record.lastFailedAt))  \(SafeText.escaped(record.id))  "
                + "\(SafeText.escaped(record.type ?? "-"))  \(SafeText.escaped(record.reason))"
            line += "  attempts=\(record.attempts)"
            if let status = record.httpStatus { line += "  http=\(status)" }
            if let error = record.error { line += "  \(SafeText.line(error, limit: 120))" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// One dead record: readable, or its JSON object. Fails (exit 1) when there is none.
    package func deadShow(id: String, json: Bool) async throws -> String {
        guard let record = try await run({ try await queue.deadShow(id: id) }) else {
            throw CalsyncAppError.failed("no dead job with id \(id) (see `calsync dead list`)")
        }
        if json { return try Self.encode(record) }
        // JSON escapes by itself; the readable form escapes control characters, so nothing a job or a
        // provider sent can move the cursor, recolour or rewrite the operator's terminal.
        let safe: (String) -> String = { SafeText.escaped($0) }
        return [
            "id:              \(safe(record.id))",
            "type:            \(safe(record.type ?? "-"))",
            "reason:          \(safe(record.reason))",
            "error:           \(safe(record.error ?? "-"))",
            "http status:     \(record.httpStatus.map(String.init) ?? "-")",
            "attempts:        \(record.attempts)",
            "first failed at: \(RFC3339.formatSeconds(record.firstFailedAt))",
            "last failed at:  \(RFC3339.formatSeconds(record.lastFailedAt))",
            // A job that never parsed keeps its bytes in the record; what is shown masks its secrets.
            "raw:             \(safe(SecretRedaction.redactForDisplay(record.raw)))",
        ].joined(separator: "\n")
    }

    /// Puts one dead job back on its ready list; fails (exit 1) when there is none.
    package func deadRetry(id: String) async throws -> String {
        guard try await run({ try await queue.deadRetry(id: id) }) else {
            throw CalsyncAppError.failed("no dead job with id \(id) (see `calsync dead list`)")
        }
        return "requeued \(id)"
    }

    /// Puts every dead job (of one type) back on its ready list.
    package func deadRetryAll(type: String?) async throws -> String {
        let count = try await run { try await queue.deadRetryAll(type: type) }
        return "requeued \(count) dead job\(count == 1 ? "" : "s")"
    }

    /// Deletes one dead record; fails (exit 1) when there is none.
    package func deadPurge(id: String) async throws -> String {
        guard try await run({ try await queue.deadPurge(id: id) }) else {
            throw CalsyncAppError.failed("no dead job with id \(id) (see `calsync dead list`)")
        }
        return "purged \(id)"
    }

    /// Deletes every dead record, or those that last failed longer than `olderThan` ago.
    package func deadPurgeAll(olderThan: Duration?) async throws -> String {
        let count = try await run { try await queue.deadPurgeAll(olderThan: olderThan) }
        return "purged \(count) dead job\(count == 1 ? "" : "s")"
    }

    // MARK: enqueue

    /// Enqueues a job exactly as a producer would (LPUSH of the envelope); returns its id.
    package func enqueue(type: String, payload: String, id: String?) async throws -> String {
        do {
            return try await queue.enqueue(type: type, payload: payload, id: id)
        } catch let error as QueueError where error.code == .invalidPayload || error.code == .invalidType {
            throw CalsyncAppError.usage(error.message)
        } catch {
            throw mapError(error)
        }
    }

    // MARK: helpers

    /// Runs a queue call, mapping Redis outages to exit 69 and engine refusals to exit 1.
    private func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw mapError(error)
        }
    }

    private func mapError(_ error: any Error) -> any Error {
        switch error {
        case let error as QueueError:
            return CalsyncAppError.failed(error.message)
        case let error as RedisError:
            if error.code == .connectionFailed || error.code == .timeout || error.code == .closed {
                return CalsyncAppError.unavailable(
                    "Redis stopped answering at \(ServiceChecks.redactedRedisURL(redis.configuration)) (\(error.message))")
            }
            return CalsyncAppError.failed("Redis refused the operation: \(error.message)")
        default:
            return error
        }
    }

    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func age(_ seconds: Double) -> String { AgeText.format(seconds: seconds) }
}
