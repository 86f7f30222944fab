import CalsyncRedis
import CalsyncSandbox
import CalsyncSync
import CalsyncTestSupport
import Foundation
import PostgresNIO
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A spawned `calsync scheduler` whose output goes to a log file.
final class SchedulerProcess: @unchecked Sendable {
    let child: ChildProcess
    let logURL: URL

    init(environment: [String: String], log: URL) throws {
        logURL = log
        child = try ChildProcess(
            executable: TestEnvironment.calsyncBinary.path, arguments: ["scheduler"],
            environment: ChildProcess.environment(environment), stdoutPath: log.path, stderrPath: log.path)
    }

    var pid: Int32 { child.pid }
    var isRunning: Bool { child.isRunning }

    /// Sends `signal` and waits (without blocking a thread) until the process is gone; SIGKILL after `timeout`.
    func stop(_ signal: Int32 = SIGKILL, timeout: Duration = .seconds(10)) async {
        guard child.isRunning else { return }
        child.signal(signal)
        if await child.wait(timeout: timeout) == nil { await child.kill9() }
    }

    /// Kills it at once without waiting (for `defer`).
    func abandon() { child.signal(SIGKILL) }

    /// What the process wrote so far.
    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
}

/// `calsync scheduler` as real processes: leader election, hand-over, deduplication, and parked replays.
@Suite("Scheduler processes", .serialized)
struct SchedulerProcessTests {
    /// Fast settings: 1 s ticks, a 2 s leader lock, an interval long enough that nothing is legitimately due twice.
    static let fast: [String: String] = [
        "CALSYNC_SCHEDULER_TICK_SECONDS": "1",
        "CALSYNC_SCHEDULER_LEADER_TTL_SECONDS": "2",
        "CALSYNC_IMPORT_INTERVAL_SECONDS": "3600",
        "CALSYNC_LOG_LEVEL": "info",
    ]

    /// Ticks run so far by these replicas (a debug log line each; an info line when a tick enqueued something).
    static func ticks(_ replicas: SchedulerProcess...) -> Int {
        replicas.reduce(0) { $0 + $1.log.components(separatedBy: "scheduler tick").count - 1 }
    }

    static func start(_ world: SyncWorld, _ extra: [String: String] = [:]) throws -> SchedulerProcess {
        try SchedulerProcess(
            environment: world.workerEnvironment.merging(fast) { $1 }.merging(extra) { $1 },
            log: world.logDirectory.appendingPathComponent("scheduler-\(UUID().uuidString.prefix(6)).log"))
    }

    /// `count` members of org-1 with a Google connection whose import is due.
    static func seedDue(_ world: SyncWorld, from first: Int = 1, count: Int) async throws {
        try await world.db.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO members (id, organization_id) SELECT 'm' || g, 'org-1' FROM generate_series(\(first), \(first + count - 1)) g;
                    """), logger: e2eLogger)
        try await world.db.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO calendar_connections (member_id, provider, access_token_expires_at)
                    SELECT 'm' || g, 'google', now() + interval '1 day' FROM generate_series(\(first), \(first + count - 1)) g
                    """), logger: e2eLogger)
        try await world.db.query(
            PostgresQuery(
                unsafeSQL: """
                    UPDATE connection_schedules s SET next_import_at = now() - interval '1 minute', last_full_resync_at = now()
                    FROM calendar_connections c
                    WHERE c.id = s.connection_id AND c.member_id IN (SELECT 'm' || g FROM generate_series(\(first), \(first + count - 1)) g)
                    """), logger: e2eLogger)
    }

    static func importJobs(_ world: SyncWorld) async throws -> [String] {
        (try await world.redis.send(["LRANGE", "\(world.prefix):queue:import_window", "0", "-1"]).array ?? [])
            .compactMap(\.string)
    }

    static func holder(_ world: SyncWorld) async throws -> String? {
        try await world.redis.send(["GET", "\(world.prefix):scheduler:leader"]).string
    }

    /// The pid in a replica id (`host-pid-random`).
    static func pid(ofReplica replica: String?) -> Int32? {
        guard let parts = replica?.split(separator: "-"), parts.count >= 2 else { return nil }
        return Int32(parts[parts.count - 2])
    }

    @Test("two schedulers running together enqueue each due import once")
    func twoSchedulers() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await Self.seedDue(world, count: 300)
            let a = try Self.start(world, ["CALSYNC_LOG_LEVEL": "debug"])
            let b = try Self.start(world, ["CALSYNC_LOG_LEVEL": "debug"])
            defer { for p in [a, b] { p.abandon() } }
            try await eventually("300 imports enqueued", timeout: .seconds(15), context: a.log + b.log) {
                try await Self.importJobs(world).count >= 300
            }
            // Several more ticks (counted, not slept for): nothing more may appear.
            let seen = Self.ticks(a, b)
            try await eventually("three more ticks", timeout: .seconds(15), context: a.log + b.log) {
                Self.ticks(a, b) >= seen + 3
            }
            let jobs = try await Self.importJobs(world)
            let members = jobs.compactMap { job in job.range(of: #""member_id":"m\d+""#, options: .regularExpression).map { String(job[$0]) } }
            #expect(jobs.count == 300, "\(a.log)\n\(b.log)")
            #expect(Set(members).count == 300)
            let leader = Self.pid(ofReplica: try await Self.holder(world))
            #expect(leader == a.pid || leader == b.pid)
            #expect([a.log, b.log].contains { $0.contains("became the scheduler leader") })
            await a.stop()
            await b.stop()
        }
    }

    @Test("killing the leader hands over within the lock TTL; SIGTERM releases the lock at once")
    func handOver() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            let a = try Self.start(world)
            let b = try Self.start(world)
            defer { for p in [a, b] { p.abandon() } }
            try await eventually("a leader", timeout: .seconds(10), context: a.log + b.log) {
                try await Self.holder(world) != nil
            }
            let first = try #require(Self.pid(ofReplica: try await Self.holder(world)))
            let (leader, other) = first == a.pid ? (a, b) : (b, a)
            await leader.stop(SIGKILL)
            let killedAt = ContinuousClock.now
            try await eventually("the other replica leads", timeout: .seconds(6), context: other.log) {
                Self.pid(ofReplica: try await Self.holder(world)) == other.pid
            }
            let handOver = ContinuousClock.now - killedAt
            print("scheduler hand-over after SIGKILL: \(handOver)")
            // The lock lives at most 2 s more; the survivor tries every 0.2 s (plus 1 s for a loaded machine).
            #expect(handOver < .seconds(3.2))

            // The new leader ticks: a connection that becomes due is imported.
            try await Self.seedDue(world, count: 1)
            try await eventually("the new leader enqueues the import", timeout: .seconds(5), context: other.log) {
                try await Self.importJobs(world).count == 1
            }

            // A graceful stop releases the lock (no waiting for the TTL).
            await other.stop(SIGTERM)
            #expect(!other.isRunning)
            #expect(try await Self.holder(world) == nil, "\(other.log)")
            #expect(other.log.contains("lock released"))
        }
    }

    @Test("a parked export is replayed once the organization is eligible again, with no job of its own")
    func parkedReplay() async throws {
        try await SyncWorld.with { world in
            try await world.organization()
            try await world.member("alice")
            try world.startWorker()
            let account = try await world.connect("alice")
            try await world.organization(enabled: false)
            try await world.export("alice", "apt-1", revision: 1)
            try await world.idle()
            #expect(world.providerEvents(account).isEmpty)

            let scheduler = try Self.start(world, ["CALSYNC_LOG_LEVEL": "debug"])
            defer { scheduler.abandon() }
            // Ineligible: two ticks pass (counted, not slept for) and nothing is replayed.
            try await eventually("the scheduler leads", timeout: .seconds(10), context: scheduler.log) {
                try await Self.holder(world) != nil
            }
            let seen = Self.ticks(scheduler)
            try await eventually("two ticks while ineligible", timeout: .seconds(10), context: scheduler.log) {
                Self.ticks(scheduler) >= seen + 2
            }
            try await world.idle()
            #expect(world.providerEvents(account).isEmpty)

            // The web tier flips the organization back; nothing else happens.
            try await world.organization(enabled: true)
            try await eventually("the parked export reaches the provider", timeout: .seconds(10), context: scheduler.log + world.allLogs) {
                world.providerEvents(account).count == 1
            }
            try await world.idle()
            #expect(world.providerEvents(account).count == 1)
            #expect(scheduler.log.contains("replays=1"))
            await scheduler.stop()
        }
    }

    @Test("the scheduler has a token refreshed before it expires, and the worker agrees it is due")
    func refreshBeforeExpiry() async throws {
        try await SyncWorld.with { world in
            // Tokens live 603 s; the shared margin is 600 s: the token becomes due about 3 s after the connect.
            world.sandbox.updateConfiguration { $0.accessTokenLifetime = .seconds(603) }
            try await world.organization()
            try await world.member("alice")
            try world.startWorker(["CALSYNC_REFRESH_MARGIN_SECONDS": "600"])
            try await world.connect("alice")
            let before = try #require(try await world.storedCredentials("alice", .google))
            let scheduler = try Self.start(world, ["CALSYNC_REFRESH_MARGIN_SECONDS": "600"])
            defer { scheduler.abandon() }
            try await eventually("a refreshed token", timeout: .seconds(15), context: scheduler.log + world.allLogs) {
                try await world.storedCredentials("alice", .google)?.accessToken != before.accessToken
            }
            let after = try #require(try await world.storedCredentials("alice", .google))
            #expect(after.expiresAt > before.expiresAt)
            #expect(Date() < before.expiresAt)  // refreshed ahead of the old token's expiry
            #expect(scheduler.log.contains("refreshes=1"))
            await scheduler.stop()
        }
    }

    @Test("calsync scheduler --help explains it; --once runs one tick and prints what it enqueued")
    func onceAndHelp() async throws {
        let help = try await CLIProcess.run(["scheduler", "--help"], environment: [:])
        #expect(help.status == 0)
        #expect(help.stdout.contains("--once") && help.stdout.contains("leader"))
        try await SyncWorld.with { world in
            try await world.organization()
            try await Self.seedDue(world, count: 3)
            let environment = world.workerEnvironment.merging(Self.fast) { $1 }
            let first = try await CLIProcess.run(["scheduler", "--once"], environment: environment)
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout.contains("enqueued 3 import(s)"), "\(first.stdout)")
            let second = try await CLIProcess.run(["scheduler", "--once"], environment: environment)
            #expect(second.stdout.contains("enqueued 0 import(s)"), "\(second.stdout)")
            #expect(try await Self.importJobs(world).count == 3)
            #expect(try await Self.holder(world) == nil)  // --once gives the lock back
        }
    }
}
