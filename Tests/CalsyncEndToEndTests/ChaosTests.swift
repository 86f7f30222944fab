import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import CalsyncSandbox
import CalsyncSync
import CalsyncTestSupport
import Foundation
import PostgresNIO
import Testing

/// The chaos test (issue 10, point 11): random jobs for Google and Microsoft members while a driver
/// SIGKILLs workers, restarts Redis (gracefully, AOF) and PostgreSQL (`pg_ctl restart -m fast`), and
/// the sandbox answers 10 % 5xx, 5 % 429 with `Retry-After`, 2 % lost answers (the write happens, the
/// answer is a 504) and 2 % answers slower than the lease and the appointment lock.
///
/// At the end, with the queues empty, it checks:
/// - every appointment: the provider holds exactly what its newest revision says (across
///   `export_appointment` and `delete_external_event`): one event at the right times, or none;
/// - no duplicate: no two events for one appointment, no event calsync did not make;
/// - no request reached an account before the `Retry-After` the sandbox gave it (250 ms after the answer:
///   what was already on its way then cannot be called back);
/// - no job lost. The workers' counters die with SIGKILL, and an outcome log written by the ack script
///   would change the engine this test is meant to judge, so the proof is read from what survives a
///   kill: each worker writes its log with one `write(2)` per line (nothing buffered), and logs
///   "job completed" / "job skipped" after the handler returned and before the ack. A job is accounted
///   for when some worker logged its completion or skip, or a dead record with a reason holds it; with
///   the ready lists, scheduled sets and in-flight tasks empty, a job that is neither was lost;
/// - the members' own busy events are their busy blocks after one last rolling import (explicit-window
///   imports must not have removed them), and every connection is still active.
///
/// `CALSYNC_CHAOS_JOBS`, `CALSYNC_CHAOS_MEMBERS`, `CALSYNC_CHAOS_SEED` (a number or `random`) and
/// `CALSYNC_CHAOS_RATE` size it; `make test` runs 1,000 jobs for 20 members with a fixed seed,
/// `make chaos` 10,000 jobs for 200 members.
@Suite("Chaos: faults, kills and restarts", .serialized)
struct ChaosTests {
    @Test("random jobs under faults, worker kills and server restarts end at each appointment's newest revision",
        .timeLimit(.minutes(40)))
    func chaos() async throws {
        let settings = ChaosSettings.fromEnvironment()
        ChaosReport.emit("chaos: \(settings)")
        let servers = try await PrivateServers.start()
        do {
            try await Self.run(settings, servers)
        } catch {
            await servers.stop()
            throw error
        }
        await servers.stop()
    }

    static func run(_ settings: ChaosSettings, _ servers: PrivateServers) async throws {
        // A request that a worker sent before calsync received a `Retry-After` cannot be called back: the
        // answer still has to reach the worker and its penalty Redis, which all workers consult. On this
        // two-core machine, with three workers, Redis, PostgreSQL and the sandbox busy, that takes up to a
        // couple of hundred milliseconds; a request arriving later than that after the answer is early.
        var configuration = SandboxConfiguration()
        configuration.retryAfterTolerance = .milliseconds(250)
        let sandbox = Sandbox(configuration: configuration, logger: e2eLogger)
        sandbox.seedFaults(settings.seed)
        let plan = ChaosPlan.make(settings, origin: Date())
        try await SyncWorld.with(redisURL: servers.redisURL, databaseURL: servers.databaseURL, sandbox: sandbox) { world in
            var run = ChaosRun(world: world, servers: servers, settings: settings, plan: plan)
            try await run.setUp()
            try await run.drive()
            try await run.settle()
            let report = try await run.check()
            ChaosReport.emit(report.table)
            #expect(report.failures.isEmpty, Comment(rawValue: report.failureText))
        }
    }
}

/// One chaos run: set-up, the driver, and the end checks.
struct ChaosRun {
    let world: SyncWorld
    let servers: PrivateServers
    let settings: ChaosSettings
    let plan: ChaosPlan
    var accounts: [SandboxAccount] = []
    var ownEventIDs: Set<String> = []
    var live: [SyncWorker] = []
    var kills = 0
    /// When each killed worker (by log name) was killed.
    var killTimes: [String: Date] = [:]
    var redisRestarts = 0
    var postgresRestarts = 0
    var started = ContinuousClock.now
    var chaosSeconds = 0.0
    var drainSeconds = 0.0
    var drained = true
    var notes: [String] = []

    init(world: SyncWorld, servers: PrivateServers, settings: ChaosSettings, plan: ChaosPlan) {
        self.world = world
        self.servers = servers
        self.settings = settings
        self.plan = plan
    }

    /// The environment of every worker of the run (on top of the world's).
    var workerEnvironment: [String: String] {
        [
            "CALSYNC_JOB_LEASE_SECONDS": String(settings.leaseSeconds),
            "CALSYNC_LOG_FORMAT": "json",
            "CALSYNC_LOG_LEVEL": "debug",
            "CALSYNC_WORKER_CONCURRENCY": "8",
            "CALSYNC_RETRY_MAX_ATTEMPTS": "12",
            // The sandbox applies a held request at most 15 s after it arrived: within the 20 s window of a
            // write (two 10 s request timeouts), so a settle margin of 10 s is more than enough, and a newer
            // revision verifies at most 30 s after an older write it could not see the end of.
            "CALSYNC_PROVIDER_TIMEOUT_SECONDS": "10",
            "CALSYNC_PROVIDER_WRITE_SETTLE_SECONDS": "10",
        ]
    }

    // MARK: set-up

    /// Organization, members with their own busy events, workers, and every member connected by a real
    /// `connect_calendar` job (no faults yet).
    mutating func setUp() async throws {
        try await world.organization("org-chaos")
        for member in plan.members {
            try await world.member(member.id, organization: "org-chaos")
            let account = world.sandbox.createAccount(member.provider, email: member.email)
            accounts.append(account)
            for (n, interval) in member.ownEvents.enumerated() {
                let id = world.sandbox.insertEvent(
                    member.provider, email: account.email, calendarID: account.primaryCalendarID,
                    SandboxEvent(summary: "Own busy \(n)", start: interval.start, end: interval.end))
                ownEventIDs.insert(id)
            }
        }
        for _ in 0..<settings.workers.upperBound { live.append(try world.startWorker(workerEnvironment)) }
        for member in plan.members {
            let code = world.sandbox.issueAuthorizationCode(member.provider, email: member.email, redirectURI: SyncWorld.redirectURI)
            try await world.enqueue(
                "connect_calendar",
                #"{"member_id":"\#(member.id)","actor_member_id":"\#(member.id)","provider":"\#(member.provider.rawValue)","authorization_code":"\#(code)","redirect_uri":"\#(SyncWorld.redirectURI)"}"#,
                id: "connect-\(member.id)")
        }
        let world = self.world
        let members = plan.members.count
        try await eventually("\(members) connections active", timeout: .seconds(30 + members / 5)) {
            try await Self.activeConnections(world) == members
        }
        try await world.idle(timeout: .seconds(60))
        addFaults()
    }

    /// The sandbox's fault mix on both providers' calendar APIs; token endpoints get the 5xx only.
    func addFaults() {
        let sandbox = world.sandbox
        for (provider, path) in [(SandboxProvider.google, "/google/calendar/v3/"), (.microsoft, "/microsoft/v1.0/")] {
            // Faults are tried in order: each probability is taken of the requests the earlier ones left.
            var left = 1.0
            func add(_ kind: SandboxFault.Kind, _ share: Double) {
                _ = sandbox.addFault(SandboxFault(kind, provider: provider, pathContains: path, probability: share / left))
                left -= share
            }
            for slow in settings.slowAnswers {
                add(.hang(milliseconds: Int(slow.components.seconds) * 1000), 0.02 / Double(settings.slowAnswers.count))
            }
            add(.dropAfterProcessing, 0.02)
            add(.status(429, body: nil), 0.05)
            add(.status(500, body: nil), 0.05)
            add(.status(503, body: nil), 0.05)
        }
        for (provider, path) in [(SandboxProvider.google, "/google/oauth2/"), (.microsoft, "/microsoft/oauth2/")] {
            _ = sandbox.addFault(SandboxFault(.status(500, body: nil), provider: provider, pathContains: path, probability: 0.1))
        }
    }

    // MARK: the driver

    /// Enqueues the plan at `settings.rate` jobs per second while killing workers and restarting Redis and
    /// PostgreSQL at random moments; keeps the chaos up 15 s after the last job, then stops the faults.
    /// Enqueueing and restarts take turns in one loop, so no enqueue is in doubt across a restart.
    mutating func drive() async throws {
        var random = SeededRandomNumberGenerator(seed: settings.seed &+ 1)
        let clock = ContinuousClock()
        started = clock.now
        func after(_ range: ClosedRange<Double>) -> ContinuousClock.Instant {
            clock.now + .milliseconds(Int(Double.random(in: range, using: &random) * 1000))
        }
        var nextKill = after(settings.killEvery)
        var nextRedis = after(settings.redisRestartEvery)
        var nextPostgres = after(settings.postgresRestartEvery)
        var enqueued = 0
        let end = started + .milliseconds(Int((Double(plan.jobs.count) / settings.rate + 15) * 1000))
        while clock.now < end || enqueued < plan.jobs.count {
            let elapsed = Self.seconds(clock.now - started)
            let due = min(plan.jobs.count, Int(elapsed * settings.rate) + 1)
            if due > enqueued {
                try await enqueue(plan.jobs[enqueued..<due])
                enqueued = due
            }
            if clock.now >= nextKill {
                try await killAndReplace(&random)
                nextKill = after(settings.killEvery)
            }
            if clock.now >= nextRedis {
                try await servers.restartRedis()
                redisRestarts += 1
                nextRedis = after(settings.redisRestartEvery)
            }
            if clock.now >= nextPostgres {
                try await servers.restartPostgres()
                postgresRestarts += 1
                nextPostgres = after(settings.postgresRestartEvery)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        world.sandbox.clearFaults()
        chaosSeconds = Self.seconds(clock.now - started)
    }

    /// SIGKILLs one running worker and starts new ones until 2–3 run.
    mutating func killAndReplace(_ random: inout SeededRandomNumberGenerator) async throws {
        live.removeAll { !$0.child.isRunning }
        if !live.isEmpty {
            let victim = live.remove(at: Int.random(in: 0..<live.count, using: &random))
            await victim.kill9()
            kills += 1
            killTimes[victim.logURL.deletingPathExtension().lastPathComponent] = Date()
        }
        let target = Int.random(in: settings.workers, using: &random)
        while live.count < target { live.append(try world.startWorker(workerEnvironment)) }
    }

    /// Pushes jobs as a producer would (one pipeline), retrying while Redis is unreachable.
    func enqueue(_ jobs: ArraySlice<ChaosJob>) async throws {
        let now = Date()
        var pending = jobs.map { ["LPUSH", "\(world.prefix):queue:\($0.type)", $0.text(at: now)] }
        let redis = world.redis
        // As a producer must: a push is enqueued only when Redis answered it with the list's length. An error
        // reply (`LOADING` while a restarted Redis reads its AOF, say) comes back inside the pipeline's
        // answers, not as a thrown error: those pushes are sent again, the others not twice.
        try await Self.retrying("enqueue") {
            let replies = try await redis.pipeline(pending)
            pending = zip(pending, replies).compactMap { command, reply in reply.int == nil ? command : nil }
            if !pending.isEmpty { throw ChaosError(message: "\(pending.count) pushes answered with an error") }
        }
    }

    /// Waits for the queues to drain, then runs one rolling import per member (for the busy-block check)
    /// and waits again.
    mutating func settle() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        live.removeAll { !$0.child.isRunning }
        while live.count < settings.workers.lowerBound { live.append(try world.startWorker(workerEnvironment)) }
        drained = try await waitForEmptyQueues(timeout: settings.drainTimeout)
        drainSeconds = Self.seconds(clock.now - start)
        guard drained else { return }
        for member in plan.members {
            try await world.enqueue("import_window", #"{"member_id":"\#(member.id)"}"#, id: "final-import-\(member.id)")
        }
        if !(try await waitForEmptyQueues(timeout: .seconds(60))) {
            notes.append("the final imports did not finish within 60 s")
        }
    }

    /// Whether no job was ready, scheduled or in flight before `timeout`.
    func waitForEmptyQueues(timeout: Duration) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        let queue = world.queue
        while ContinuousClock.now < deadline {
            if let stats = try? await queue.stats(knownTypes: ContractJobTypes.all),
                stats.ready.values.allSatisfy({ $0 == 0 }), stats.scheduled.values.allSatisfy({ $0 == 0 }), stats.inFlight == 0
            {
                return true
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    // MARK: the end checks

    /// Gathers what the run left (dead letters, worker logs, provider calendars, busy blocks, connections)
    /// and judges it against the plan.
    func check() async throws -> ChaosReport {
        var report = ChaosReport(settings: settings, plan: plan)
        report.kills = kills
        report.redisRestarts = redisRestarts
        report.postgresRestarts = postgresRestarts
        report.chaosSeconds = chaosSeconds
        report.drainSeconds = drainSeconds
        report.failures += notes
        if !drained {
            let stats = try? await world.queue.stats(knownTypes: ContractJobTypes.all)
            report.failures.append(
                "the queues did not drain within \(settings.drainTimeout) after the chaos stopped: "
                    + "ready \(stats?.ready ?? [:]), scheduled \(stats?.scheduled ?? [:]), in flight \(stats?.inFlight ?? -1)")
        }
        if drained {
            // With every queue empty, no task may be left behind: a task hash in no list, set or lease is a
            // job that nothing will ever run.
            let keys = try await world.redis.send(["KEYS", "\(world.prefix):task:*"]).array?.compactMap(\.string) ?? []
            for key in keys.prefix(20) {
                let fields = try await world.redis.send(["HGETALL", key]).array?.compactMap(\.string) ?? []
                var pairs: [String] = []
                var index = 0
                while index + 1 < fields.count {
                    if fields[index] != "raw" && fields[index] != "redacted" { pairs.append("\(fields[index])=\(fields[index + 1])") }
                    index += 2
                }
                report.failures.append("task left behind: \(key) \(pairs.joined(separator: " "))")
            }
        }
        for worker in world.workerLogs where worker.text.isEmpty {
            report.failures.append("the log of \(worker.name) is empty or unreadable")
        }
        var seen = ChaosObservations()
        for record in try await world.queue.deadList(type: nil, limit: 1_000_000) { seen.deadReasons[record.id] = record.reason }
        seen.trace = Self.jobTrace(world.workerLogs)
        for (index, account) in accounts.enumerated() {
            seen.events[index] = world.providerEvents(account).filter { !ownEventIDs.contains($0.id) }
        }
        seen.requests = world.sandbox.requests()
        seen.early = world.sandbox.earlyRequests()
        seen.killTimes = killTimes
        if drained {
            var busy: [String: Set<DateInterval>] = [:]
            for member in plan.members { busy[member.id] = Set(try await world.visibleBusy(member.id)) }
            seen.busy = busy
        }
        for member in plan.members {
            if let row = try await world.connection(member.id, member.provider), row.status != "active" {
                seen.inactiveConnections.append("\(member.id)'s \(member.provider.rawValue) connection is \(row.status): \(row.statusDetail ?? "")")
            }
        }
        // Nobody edits an exported event in this run: a change an import reported would be calsync's own write
        // taken for the member's (two-way, contract §8).
        for member in plan.members {
            for change in try await world.externalChanges(member.id) {
                report.failures.append(
                    "\(member.id): calsync's own write of \(change.appointment) (revision \(change.revision)) was reported as the member's \(change.change)")
            }
        }
        report.judge(seen)
        return report
    }

    /// One log line of a job: when, which worker, what.
    struct JobStep {
        let time: Date
        let worker: String
        let message: String
    }

    /// Job id → the steps the workers logged for it (JSON lines carrying `calsync.job.id`), oldest first.
    static func jobTrace(_ logs: [(name: String, text: String)]) -> [String: [JobStep]] {
        var out: [String: [JobStep]] = [:]
        for (worker, text) in logs {
            for line in text.split(separator: "\n") where line.contains("\"calsync.job.id\"") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                    let metadata = object["metadata"] as? [String: Any], let id = metadata["calsync.job.id"] as? String,
                    let message = object["message"] as? String
                else { continue }
                let time = (object["ts"] as? String).flatMap { RFC3339Instant.parse($0) } ?? Date(timeIntervalSince1970: 0)
                out[id, default: []].append(JobStep(time: time, worker: worker, message: message))
            }
        }
        return out.mapValues { $0.sorted { $0.time < $1.time } }
    }

    /// `hh:mm:ss.mmm` (UTC), for traces.
    static func clock(_ date: Date) -> String { String(RFC3339.format(date).dropFirst(11).prefix(12)) }

    static func activeConnections(_ world: SyncWorld) async throws -> Int {
        let rows = try await world.db.query("SELECT count(*) FROM calendar_connections WHERE status = 'active'", logger: e2eLogger)
        for try await count in rows.decode(Int64.self) { return Int(count) }
        return 0
    }

    /// Runs `body` until it succeeds, for up to 10 s (a server restart takes a second or two).
    static func retrying(_ what: String, _ body: () async throws -> Void) async throws {
        var lastError: (any Error)?
        for _ in 0..<100 {
            do {
                try await body()
                return
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw ChaosError(message: "\(what) kept failing for 10 s: \(String(describing: lastError))")
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

/// A step of the chaos harness itself failed (not a finding about calsync).
struct ChaosError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// What a chaos run found, as a table for the log and a list of failures for the test.
struct ChaosReport {
    let settings: ChaosSettings
    let plan: ChaosPlan
    var jobsByOutcome: [String: Int] = [:]
    var deadByReason: [String: Int] = [:]
    var lost: [String] = []
    var appointmentsChecked = 0
    var wantingEvent = 0
    var wrong: [String] = []
    var duplicates = 0
    var unknownEvents: [String] = []
    var early: [SandboxEarlyRequest] = []
    var wrongBusy: [String] = []
    var membersWithExplicitWindows = 0
    var kills = 0
    var redisRestarts = 0
    var postgresRestarts = 0
    var chaosSeconds = 0.0
    var drainSeconds = 0.0
    var failures: [String] = []

    /// Writes a line to standard error (unbuffered, so it shows even when the test process is killed) and,
    /// when `CALSYNC_CHAOS_REPORT` names a file, appends it there too.
    static func emit(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
        if let path = ProcessInfo.processInfo.environment["CALSYNC_CHAOS_REPORT"] {
            if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
            if let file = FileHandle(forWritingAtPath: path) {
                file.seekToEndOfFile()
                file.write(Data((text + "\n").utf8))
                file.closeFile()
            }
        }
    }

    private static func list(_ counts: [String: Int]) -> String {
        counts.isEmpty ? "none" : counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// The summary printed after every run.
    var table: String {
        let earlyByProvider = early.reduce(into: [String: Int]()) {
            $0["\($1.provider.rawValue) after \($1.status)", default: 0] += 1
        }
        var lines = [
            "chaos summary (\(settings))",
            "| what | figure |",
            "|---|---|",
            "| jobs by type | \(Self.list(plan.jobsByType)) |",
            "| jobs by outcome | \(Self.list(jobsByOutcome)) |",
            "| dead by reason | \(Self.list(deadByReason)) |",
            "| jobs lost | \(lost.count) |",
            "| appointments checked | \(appointmentsChecked) (\(wantingEvent) want an event, \(appointmentsChecked - wantingEvent) none) |",
            "| appointments wrong at the provider | \(wrong.count) |",
            "| appointments with duplicate events | \(duplicates) |",
            "| events of no appointment | \(unknownEvents.count) |",
            "| requests before Retry-After | \(early.count) (\(Self.list(earlyByProvider))) |",
            "| members with wrong busy blocks | \(wrongBusy.count) of \(plan.members.count) (\(membersWithExplicitWindows) had explicit-window imports) |",
            "| worker SIGKILLs | \(kills) |",
            "| Redis restarts | \(redisRestarts) |",
            "| PostgreSQL restarts | \(postgresRestarts) |",
            "| elapsed | chaos \(Int(chaosSeconds)) s, drain \(Int(drainSeconds)) s |",
        ]
        if !wrong.isEmpty { lines.append("wrong appointments:"); lines += wrong.map { "  - " + $0 } }
        if !unknownEvents.isEmpty { lines.append("events of no appointment:"); lines += unknownEvents.map { "  - " + $0 } }
        if !early.isEmpty {
            lines.append("early requests (first 20):")
            lines += early.prefix(20).map {
                "  - \($0.provider.rawValue) \($0.account) \($0.method) \($0.path) "
                    + "\(Int($0.allowedAt.timeIntervalSince($0.time) * 1000)) ms early (after a \($0.status))"
            }
        }
        if !wrongBusy.isEmpty { lines.append("busy blocks:"); lines += wrongBusy.map { "  - " + $0 } }
        if !lost.isEmpty { lines.append("lost jobs (first 20):"); lines += lost.prefix(20).map { "  - " + $0 } }
        return lines.joined(separator: "\n")
    }

    /// The failures with the first details of each kind, for the test's message.
    var failureText: String {
        (failures + ["", "first wrong appointments:"] + wrong.prefix(15).map { "  - " + $0 }
            + ["", "first early requests:"] + early.prefix(5).map { "  - \($0.provider.rawValue) \($0.method) \($0.path)" }
            + ["", "busy blocks:"] + wrongBusy.prefix(5).map { "  - " + $0 }).joined(separator: "\n")
    }
}

/// What the end of a run left, gathered before it is judged (so the judgement can be tested on its own).
struct ChaosObservations {
    /// Dead record id → reason.
    var deadReasons: [String: String] = [:]
    /// Job id → what the workers logged for it.
    var trace: [String: [ChaosRun.JobStep]] = [:]
    /// Member index → the events in the member's calendar, the member's own excluded.
    var events: [Int: [SandboxStoredEvent]] = [:]
    /// The sandbox's request log.
    var requests: [SandboxRequestRecord] = []
    /// Requests that came before a Retry-After ran out.
    var early: [SandboxEarlyRequest] = []
    /// Member id → the busy blocks the availability engine sees (nil when the queues did not drain).
    var busy: [String: Set<DateInterval>]?
    /// Connections that are not active, in words.
    var inactiveConnections: [String] = []
    /// Worker log name → when the driver killed it.
    var killTimes: [String: Date] = [:]
}

extension ChaosReport {
    /// Judges what a run left against the plan: job outcomes, each appointment's event, events of no
    /// appointment, early requests, busy blocks and connections; every finding lands in `failures`.
    mutating func judge(_ seen: ChaosObservations) {
        // Job outcomes: dead records first, then what the logs say.
        for (id, reason) in seen.deadReasons where reason.isEmpty { failures.append("dead record \(id) has no reason") }
        var logged: [String: String] = [:]
        for (id, steps) in seen.trace {
            if let last = steps.last(where: { $0.message == "job completed" || $0.message == "job skipped" }) {
                logged[id] = last.message == "job completed" ? "completed" : "skipped"
            }
        }
        var outcome: [String: String] = [:]
        for job in plan.jobs {
            if let reason = seen.deadReasons[job.id] {
                outcome[job.id] = "dead"
                deadByReason[reason.isEmpty ? "(none)" : reason, default: 0] += 1
            } else if let result = logged[job.id] {
                outcome[job.id] = result
            } else {
                outcome[job.id] = "no trace"
                lost.append("\(job.id) (\(job.type)) \(job.payload)")
            }
            jobsByOutcome[outcome[job.id]!, default: 0] += 1
        }
        if !lost.isEmpty {
            failures.append("\(lost.count) jobs lost (neither completed, skipped nor dead): " + lost.prefix(10).joined(separator: "; "))
        }

        // The providers: what each appointment's newest revision says, and nothing else.
        var appointmentOf: [String: Int] = [:]
        for (index, appointment) in plan.appointments.enumerated() {
            appointmentOf[ExportKey(memberID: plan.members[appointment.member].id, appointmentID: appointment.id).digest] = index
        }
        var eventsOf: [Int: [SandboxStoredEvent]] = [:]
        for (memberIndex, events) in seen.events.sorted(by: { $0.key < $1.key }) {
            for event in events {
                let digest = appointmentOf[event.id] != nil ? event.id : event.event.privateProperties.values.first { appointmentOf[$0] != nil }
                if let digest, let index = appointmentOf[digest] {
                    eventsOf[index, default: []].append(event)
                } else {
                    unknownEvents.append(
                        "\(plan.members[memberIndex].id): event \(event.id) '\(event.event.summary)' "
                            + ChaosPlan.describe(DateInterval(start: event.event.start, end: event.event.end)))
                }
            }
        }
        for (index, appointment) in plan.appointments.enumerated() {
            appointmentsChecked += 1
            let member = plan.members[appointment.member]
            let newest = appointment.newest
            let held = eventsOf[index] ?? []
            if newest.wantedEvent != nil { wantingEvent += 1 }
            if held.count > 1 { duplicates += 1 }
            let right: Bool
            if let wanted = newest.wantedEvent {
                right = held.count == 1 && held[0].event.start == wanted.start && held[0].event.end == wanted.end
            } else {
                right = held.isEmpty
            }
            guard !right else { continue }
            let heldText = held.isEmpty ? "no event" : held.map { event -> String in
                let interval = DateInterval(start: event.event.start, end: event.event.end)
                let matching = appointment.revisions.filter { $0.wantedEvent == interval }.map { "r\($0.number)" }
                return "\(ChaosPlan.describe(interval)) (as \(matching.isEmpty ? "no revision" : matching.joined(separator: "/")))"
            }.joined(separator: " + ")
            let carriers = newest.jobIDs.map { "\($0) \(outcome[$0] ?? "?")\(seen.deadReasons[$0].map { " (\($0))" } ?? "")" }
            var story: [String] = []
            for revision in appointment.revisions {
                for id in revision.jobIDs {
                    let steps = seen.trace[id] ?? []
                    for (n, step) in steps.enumerated() {
                        // A start that its worker never followed up: the worker was killed in the middle of it.
                        let unfinished = step.message == "job started" && !steps[(n + 1)...].contains { $0.worker == step.worker }
                        let killed = unfinished ? seen.killTimes[step.worker].map { " (its worker was killed at \(ChaosRun.clock($0)))" } ?? "" : ""
                        story.append("      \(ChaosRun.clock(step.time)) \(id) r\(revision.number) \(step.worker): \(step.message)\(killed)")
                    }
                }
            }
            let eventIDs = Set(held.map(\.id) + [ExportKey(memberID: member.id, appointmentID: appointment.id).googleEventID])
            for request in seen.requests where request.isWrite && eventIDs.contains(where: { request.path.contains($0) }) {
                story.append("      \(ChaosRun.clock(request.time)) provider got \(request.method) for the event (answered \(request.status))")
            }
            story.sort()
            wrong.append(
                "\(member.id) (\(member.provider.rawValue)) \(appointment.id): newest \(newest.summary) "
                    + "[\(carriers.joined(separator: ", "))]; revisions \(appointment.revisions.map(\.summary).joined(separator: ", ")); "
                    + "provider holds \(heldText)\n    what the workers logged for its jobs:\n" + story.joined(separator: "\n"))
        }
        if !wrong.isEmpty { failures.append("\(wrong.count) of \(appointmentsChecked) appointments end wrong at the provider") }
        if !unknownEvents.isEmpty { failures.append("\(unknownEvents.count) events at the provider belong to no appointment") }
        if duplicates > 0 { failures.append("\(duplicates) appointments have more than one event") }

        // Retry-After.
        early = seen.early
        if !early.isEmpty { failures.append("\(early.count) requests came before the account's Retry-After ran out") }

        // Busy blocks and connections.
        func explicitWindows(_ member: ChaosMember) -> Int {
            plan.jobs.filter {
                $0.type == "import_window" && $0.payload.contains(#""member_id":"\#(member.id)""#) && $0.payload.contains("window_start")
            }.count
        }
        membersWithExplicitWindows = plan.members.filter { explicitWindows($0) > 0 }.count
        if let busyOf = seen.busy {
            for member in plan.members {
                let busy = busyOf[member.id] ?? []
                let own = Set(member.ownEvents)
                guard busy != own else { continue }
                wrongBusy.append(
                    "\(member.id) (\(member.provider.rawValue)): missing "
                        + own.subtracting(busy).map(ChaosPlan.describe).sorted().joined(separator: ", ")
                        + "; extra " + busy.subtracting(own).map(ChaosPlan.describe).sorted().joined(separator: ", ")
                        + "; explicit-window imports of this member: \(explicitWindows(member))")
            }
            if !wrongBusy.isEmpty { failures.append("\(wrongBusy.count) members' busy blocks differ from their own events") }
        }
        failures += seen.inactiveConnections
    }
}
