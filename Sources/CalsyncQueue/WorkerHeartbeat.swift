import CalsyncJobs
import CalsyncRedis
import Foundation
import Logging
import ServiceLifecycle

/// What a live worker process publishes about itself (`<prefix>:worker:<id>`, read by the console).
package struct WorkerBeat: Sendable, Codable, Equatable {
    /// The worker id (`host:pid:random`).
    package var id: String
    /// The host name.
    package var host: String
    /// The process id.
    package var pid: Int
    /// The calsync version.
    package var version: String
    /// Jobs in flight at most.
    package var concurrency: Int
    /// Jobs in flight now.
    package var inFlight: Int
    /// Jobs in flight now, per type.
    package var inFlightByType: [String: Int]
    /// When the process started (ms since 1970).
    package var startedAtMs: Int64
    /// When this beat was written (ms since 1970).
    package var beatAtMs: Int64

    enum CodingKeys: String, CodingKey {
        case id, host, pid, version, concurrency
        case inFlight = "in_flight"
        case inFlightByType = "in_flight_by_type"
        case startedAtMs = "started_at_ms"
        case beatAtMs = "beat_at_ms"
    }
}

/// Publishes this worker's heartbeat every `interval` to `<prefix>:worker:<id>` with a TTL of three intervals,
/// and indexes it in the sorted set `<prefix>:workers`; a graceful shutdown removes it. One SET and one ZADD a beat.
package struct WorkerHeartbeat: Service {
    private let redis: RedisClient
    private let prefix: String
    private let interval: Duration
    private let logger: Logger
    private let makeBeat: @Sendable () -> WorkerBeat

    /// Creates the heartbeat of `worker`.
    package init(
        worker: JobWorker, redis: RedisClient, prefix: String, workerID: String, concurrency: Int,
        interval: Duration = .seconds(5), logger: Logger
    ) {
        self.redis = redis
        self.prefix = prefix
        self.interval = interval
        self.logger = logger
        let started = Int64(Date().timeIntervalSince1970 * 1000)
        let host = ProcessInfo.processInfo.hostName
        let pid = Int(ProcessInfo.processInfo.processIdentifier)
        self.makeBeat = {
            let byType = worker.inFlightByType
            return WorkerBeat(
                id: workerID, host: host, pid: pid, version: CalsyncVersion.current, concurrency: concurrency,
                inFlight: byType.values.reduce(0, +), inFlightByType: byType, startedAtMs: started,
                beatAtMs: Int64(Date().timeIntervalSince1970 * 1000))
        }
    }

    /// The key of one worker's beat.
    package static func key(prefix: String, id: String) -> String { "\(prefix):worker:\(id)" }

    /// Beats until a graceful shutdown, then removes the beat.
    package func run() async throws {
        let id = makeBeat().id
        // A graceful shutdown (or cancellation) ends the sleep at once: the beat never delays a worker's exit.
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await beat()
                try await Task.sleep(for: interval)
            }
        }
        _ = try? await redis.pipeline([["DEL", Self.key(prefix: prefix, id: id)], ["ZREM", "\(prefix):workers", id]])
    }

    private func beat() async {
        let beat = makeBeat()
        do {
            let json = String(decoding: try JSONEncoder().encode(beat), as: UTF8.self)
            let ttl = interval.milliseconds * 3
            _ = try await redis.pipeline([
                ["SET", Self.key(prefix: prefix, id: beat.id), json, "PX", String(ttl)],
                ["ZADD", "\(prefix):workers", String(beat.beatAtMs), beat.id],
                ["ZREMRANGEBYSCORE", "\(prefix):workers", "-inf", String(beat.beatAtMs - ttl * 4)],
            ])
        } catch {
            logger.debug("heartbeat failed", metadata: [LogKey.error: "\(error)"])
        }
    }
}

extension JobQueue {
    /// The live workers: every beat still within its TTL, by id.
    package func liveWorkers() async throws -> [WorkerBeat] {
        let prefix = configuration.prefix
        let ids = (try await redis.send(["ZRANGE", "\(prefix):workers", "0", "-1"]).array ?? []).compactMap(\.string)
        if ids.isEmpty { return [] }
        let values = try await redis.send(["MGET"] + ids.map { WorkerHeartbeat.key(prefix: prefix, id: $0) }).array ?? []
        let decoder = JSONDecoder()
        return values.compactMap { value in value.bytes.flatMap { try? decoder.decode(WorkerBeat.self, from: Data($0)) } }
            .sorted { $0.id < $1.id }
    }

    /// Jobs finished (acknowledged) per type over the last `minutes` minutes, this one included.
    package func completions(minutes: Int = 5) async throws -> [String: Int] {
        let time = try await redis.send(["TIME"]).array ?? []
        guard let seconds = time.first?.int else { return [:] }
        let minute = seconds / 60
        let commands = (0..<max(1, minutes)).map { ["HGETALL", "\(configuration.prefix):stats:done:\(minute - $0)"] }
        var counts: [String: Int] = [:]
        for reply in try await redis.pipeline(commands) {
            let flat = reply.array ?? []
            var i = 0
            while i + 1 < flat.count {
                if let type = flat[i].string, let n = flat[i + 1].string.flatMap({ Int($0) }) { counts[type, default: 0] += n }
                i += 2
            }
        }
        return counts
    }
}
