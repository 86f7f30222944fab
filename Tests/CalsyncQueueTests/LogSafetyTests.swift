import CalsyncJobs
import CalsyncRedis
import Logging
import Synchronization
import Testing

@testable import CalsyncQueue

/// Collects every log line (message and metadata) a logger writes.
final class LogStore: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

struct CapturingLogHandler: LogHandler {
    let store: LogStore
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        store.append("\(event.level) \(event.message) \(merged)")
    }
}

@Suite("Log safety")
struct LogSafetyTests {
    @Test func jobLogsCarryIdsAndNeverThePayload() async throws {
        try await withQueue("logs", configure: { $0.retry = .exponentialJitter(base: .zero, cap: .zero, maxAttempts: 2) }) { queue, redis in
            let store = LogStore()
            let logger = Logger(label: "calsync.test.logs") { _ in CapturingLogHandler(store: store) }
            let handler = ClosureHandler(jobType: "connect_calendar") { job, context in
                context.logger.debug("handling")
                throw JobError.retryable(.init("token_endpoint"), "the token endpoint answered 503", httpStatus: 503)
            }
            let id = try await queue.enqueue(
                type: "connect_calendar", payload: #"{"member_id":"m1","authorization_code":"4/SECRET-CODE","password":"hunter2"}"#)
            try await queue.enqueue(raw: Array(#"{"id":"bad","type":"nope","payload":{"password":"hunter3"}}"#.utf8), type: "connect_calendar")
            let worker = JobWorker(queue: queue, handlers: [handler], knownTypes: [], configuration: testWorkerConfiguration(), logger: logger)
            try await withWorker(worker) {
                try await waitUntil("both dead") { try await queue.stats(knownTypes: []).dead == 2 }
            }
            let lines = store.all
            #expect(lines.contains { $0.contains("calsync.job.id") && $0.contains(id) && $0.contains("connect_calendar") })
            for line in lines {
                #expect(!line.contains("SECRET-CODE") && !line.contains("hunter"), "a log line holds a secret: \(line)")
                #expect(!line.contains("member_id"), "a log line holds the payload: \(line)")
            }
            let record = try #require(try await queue.deadShow(id: id))
            #expect(record.reason == "attempts_exhausted")
            #expect(!record.raw.contains("SECRET-CODE") && !record.raw.contains("hunter2"))
            #expect(record.raw.contains(#""member_id":"m1""#))
            let values = try await redis.send(["HGETALL", "\(queue.configuration.prefix):dead"]).array ?? []
            let stored = values.compactMap(\.string).joined(separator: "\n")
            #expect(!stored.contains("SECRET-CODE") && !stored.contains("hunter"))
        }
    }
}
