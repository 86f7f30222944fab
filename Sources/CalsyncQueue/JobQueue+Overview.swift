import CalsyncJobs
import CalsyncRedis
import Foundation

extension JobQueue {
    /// Age in seconds of the oldest ready job of each type (one with an `enqueued_at`); one pipeline.
    package func oldestReadyAges(types: [String]) async throws -> [String: Double] {
        if types.isEmpty { return [:] }
        let replies = try await redis.pipeline([["TIME"]] + types.map { ["LINDEX", readyKey($0), "-1"] })
        guard let time = replies.first?.array, time.count == 2, let seconds = time[0].int, let micros = time[1].int else {
            throw QueueError(code: .unexpectedReply, message: "Redis answered TIME unexpectedly")
        }
        let now = Double(seconds) + Double(micros) / 1_000_000
        var ages: [String: Double] = [:]
        for (index, type) in types.enumerated() {
            guard index + 1 < replies.count, let raw = replies[index + 1].bytes,
                case .valid(_, let enqueuedAt?, _, _) = JobEnvelope.check(raw, listType: type)
            else { continue }
            ages[type] = max(0, now - enqueuedAt.timeIntervalSince1970)
        }
        return ages
    }

    /// Dead records in all (HLEN of the dead hash).
    package func deadTotal() async throws -> Int {
        try await redis.send(["HLEN", "\(configuration.prefix):dead"]).int ?? 0
    }
}
