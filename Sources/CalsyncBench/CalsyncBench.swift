// CalsyncBench owns `make bench`: it drives the release `calsync` binary (worker and scheduler) against
// local Redis, PostgreSQL and the provider sandbox served from this process, measures each scenario
// against its target and writes bench/results.md. Nothing in calsync may depend on it, and it is not
// part of `make test` or CI (it is only compiled there, so that it cannot rot).
import ArgumentParser
import CalsyncRedis
import CalsyncSandbox
import Foundation
import Logging
import PostgresNIO

@main
struct CalsyncBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calsync-bench",
        abstract: "Measures calsync's throughput, latency, import cost, memory and scheduler tick against their targets.",
        discussion: """
            Run it through `make bench`, which builds in release mode and starts Redis and PostgreSQL \
            (scripts/bench.sh). It reads CALSYNC_REDIS_URL and CALSYNC_DATABASE_URL, serves the provider \
            sandbox itself, spawns `calsync worker` and `calsync scheduler --once`, prints a table and \
            writes it with the machine's description to --output. bench/README.md explains each scenario.
            """,
        // The floor scenario's child processes (hidden).
        subcommands: [FloorChild.self])

    @Option(help: "The calsync binary to measure (build it with `swift build -c release`).")
    var calsync = ".build/release/calsync"

    @Option(help: "Where the Markdown results go.")
    var output = "bench/results.md"

    @Option(help: "Scenarios to run, comma-separated: export, floor, cost, scale, latency, steady, import, memory, scheduler, push, console, caldav (default: all).")
    var only: String?

    @Option(help: "Export jobs of the throughput scenarios.")
    var exports = 20_000

    @Option(help: "Members the export jobs are spread over.")
    var members = 200

    @Option(help: "Connections of the scheduler scenario.")
    var schedulerConnections = 100_000

    @Option(help: "Connections of the scheduler scenario's large tick (0 skips it).")
    var schedulerLargeConnections = 1_000_000

    @Option(help: "Members of the cost scenario, each with 100 events to import.")
    var costMembers = 100

    @Option(help: "Dead records of the console scenario.")
    var consoleDeadRecords = 100_000

    @Option(help: ArgumentHelp(
        "The floor scenario also sends its requests with this departure from the worker's set-up (repeatable): default-executor, no-decompression, or both comma-separated.",
        visibility: .hidden))
    var floorVariants: [String] = []

    @Option(help: ArgumentHelp(
        "Run each worker under this command, e.g. \"valgrind --tool=callgrind\" (profiling; figures then mean nothing).",
        valueName: "command"))
    var workerWrapper: String?

    @Option(help: "Keep the work folder (worker logs, profiles) here instead of deleting it.")
    var keepLogs: String?

    func validate() throws {
        guard FileManager.default.isExecutableFile(atPath: calsync) else {
            throw ValidationError("no calsync binary at \(calsync): run `swift build -c release` first (make bench does)")
        }
        let known: Set = ["export", "floor", "cost", "scale", "latency", "steady", "import", "memory", "scheduler", "push", "console", "caldav"]
        for name in selected where !known.contains(name) {
            throw ValidationError("unknown scenario '\(name)': choose from \(known.sorted().joined(separator: ", "))")
        }
    }

    var selected: [String] {
        only?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            ?? ["export", "floor", "cost", "scale", "latency", "steady", "import", "memory", "scheduler", "push", "console", "caldav"]
    }

    func run() async throws {
        lineBufferStandardOutput()
        var logger = Logger(label: "calsync.bench")
        logger.logLevel = .warning
        let options = self
        let wrapper = workerWrapper?.split(separator: " ").map(String.init) ?? []
        let report = try await BenchRig.with(
            calsync: URL(fileURLWithPath: calsync).path, workerWrapper: wrapper, keepLogs: keepLogs, logger: logger
        ) { rig in
            try await options.measure(rig)
        }
        print("\n" + report.text)
        let url = URL(fileURLWithPath: output)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try report.markdown.write(to: url, atomically: true, encoding: .utf8)
        print("\nwritten to \(output)")
    }

    private func measure(_ rig: BenchRig) async throws -> Report {
        var report = Report()
        let redisInfo = try await rig.redis.send(["INFO", "server"]).string ?? ""
        let redisVersion = redisInfo.split(separator: "\r\n").first { $0.hasPrefix("redis_version:") }?.dropFirst(14) ?? "?"
        var postgresVersion = "?"
        for try await version in try await rig.db.query("SHOW server_version", logger: rig.logger).decode(String.self) {
            postgresVersion = version
        }
        report.machine = Report.describeMachine(redisVersion: String(redisVersion), postgresVersion: postgresVersion)

        let memberIDs = BenchRig.memberIDs(members)
        let scenarios = Set(selected)
        // The console scenario needs no connected members.
        if !scenarios.subtracting(["console"]).isEmpty {
            print("setting up: \(members) members (+1 importer) connected through connect_calendar jobs")
            let setup = try await rig.startWorker()
            do {
                let costMembers = scenarios.contains("cost") ? BenchRig.costMembers(self.costMembers) : []
                try await rig.connectMembers(memberIDs + [BenchRig.importer] + costMembers)
                await setup.stop()
            } catch {
                await setup.stop()
                throw error
            }
        }

        if scenarios.contains("export") { try await exportThroughput(rig, memberIDs, &report) }
        if scenarios.contains("floor") { try await floor(rig, memberIDs, &report) }
        if scenarios.contains("cost") { try await jobCosts(rig, memberIDs, &report) }
        if scenarios.contains("scale") { try await scaling(rig, memberIDs, &report) }
        if scenarios.contains("latency") { try await exportUnderLatency(rig, memberIDs, &report) }
        if scenarios.contains("steady") { try await steadyLatency(rig, memberIDs, &report) }
        if scenarios.contains("import") { try await importCost(rig, &report) }
        if scenarios.contains("memory") { try await memory(rig, memberIDs, &report) }
        if scenarios.contains("scheduler") { try await scheduler(rig, memberIDs, &report) }
        if scenarios.contains("push") { try await pushScenario(rig, memberIDs, &report) }
        if scenarios.contains("console") { try await console(rig, &report) }
        if scenarios.contains("caldav") { try await caldavImportCost(rig, &report) }
        report.details.append(
            "Rate limits: every provider request passes calsync's Redis rate-limit script, with the Google limits "
                + "raised (CALSYNC_GOOGLE_APP_REQUESTS_PER_MINUTE and CALSYNC_GOOGLE_USER_REQUESTS_PER_MINUTE = 100,000,000) "
                + "and the sandbox's per-user quota raised to match: at Google's real 600/min per user, 200 members cap at 2,000 requests/s.")
        report.details.append(
            "Everything shares the same cores: the worker, Redis, PostgreSQL, and this process (driver + sandbox).")
        return report
    }

    // MARK: scenarios

    private func pushScenario(_ rig: BenchRig, _ memberIDs: [String], _ report: inout Report) async throws {
        let members = Array(memberIDs.prefix(50))
        print("\n[7] push: change → busy block at 50 changes/s over \(members.count) members (webhooks + worker), then one webhooks process under load")
        let latency = try await rig.pushLatency(members: members, rate: 50, seconds: 10)
        let p50 = quantile(latency.latencies, 0.5)
        let p99 = quantile(latency.latencies, 0.99)
        report.add(Figure("7 push", "change → busy block p50 (s)", grouped(p50, decimals: 2)))
        report.add(
            Figure(
                "7 push", "change → busy block p99 (s)", grouped(p99, decimals: 2), target: "≤ 2",
                met: latency.missing == 0 && p99 <= 2))
        if latency.missing > 0 { report.details.append("Push latency: \(latency.missing) changes never reached the busy view within 20 s.") }
        let load = try await rig.webhooksThroughput(concurrency: 64, seconds: 10)
        // Accepted: answered 200 and checked behind the answer (not dropped from a full inbox), over the load and
        // the time its backlog took to drain.
        let dropped = load.outcomes["dropped"] ?? 0
        let rate = Double(load.latencies.count - dropped) / (10 + load.backlogSeconds)
        let answerP99 = quantile(load.latencies, 0.99) * 1000
        report.add(
            Figure(
                "7 push", "notifications/s one webhooks process accepts (64 clients)", grouped(rate), target: "≥ 10,000 at p99 ≤ 50 ms",
                met: rate >= 10_000 && answerP99 <= 50 && load.otherAnswers == 0))
        report.add(
            Figure("7 push", "notifications/s answered (of which dropped behind the answer)", "\(grouped(Double(load.latencies.count) / 10)) (\(grouped(Double(dropped))))"))
        report.add(Figure("7 push", "notification answer p99 (ms)", grouped(answerP99, decimals: 1), target: "≤ 50", met: answerP99 <= 50))
        report.add(Figure("7 push", "webhooks RSS / peak (MiB)", "\(grouped(Double(load.rss) / 1_048_576)) / \(grouped(Double(load.peak) / 1_048_576))"))
        let answered = max(load.latencies.count, 1)
        report.details.append(
            "Push intake: 64 persistent HTTP/1.1 connections (a SwiftNIO client in this process), one distinct notification "
                + "at a time each; \(load.otherAnswers) answers other than 200. CPU per answered notification: webhooks "
                + "\(grouped(load.cpu.worker / Double(answered) * 1e6)) µs, PostgreSQL \(grouped(load.cpu.postgres / Double(answered) * 1e6)) µs, "
                + "Redis \(grouped(load.cpu.redis / Double(answered) * 1e6)) µs, load generator + sandbox \(grouped(load.cpu.bench / Double(answered) * 1e6)) µs. "
                + "Behind the answers (the process's counters): "
                + load.outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \(grouped(Double($0.value)))" }.joined(separator: ", ")
                + "; all counted \(grouped(load.backlogSeconds, decimals: 1)) s after the load ended.")
    }

    private func exportThroughput(_ rig: BenchRig, _ memberIDs: [String], _ report: inout Report) async throws {
        print("\n[1] export throughput: \(exports) export_appointment jobs, \(members) members, 0 ms provider latency, one worker")
        let run = try await rig.timedExports(tag: "t", jobs: exports, members: memberIDs)
        print("    measuring the bare limit: claim/ack scripts alone, then the PostgreSQL statements of one export alone")
        let bare = try await rig.bareLimit(jobs: exports, members: memberIDs, concurrency: 64)
        let bareRate = Double(exports) / (bare.redis + bare.postgres)
        let ratio = run.jobsPerSecond / bareRate
        let name = "1 export, 0 ms"
        let cpuPerExport = run.cpu.worker / Double(exports) * 1e6
        // The headline: what a worker process costs per export decides how many a fleet needs.
        report.add(
            Figure(name, "worker CPU per export (µs)", grouped(cpuPerExport), target: "≤ 150", met: run.complete && cpuPerExport <= 150))
        report.add(Figure(name, "exports/s (one worker, concurrency 64; was ≥ 3,000)", grouped(run.jobsPerSecond)))
        report.add(Figure(name, "bare limit (claim+ack, then the 2 SQL statements)", "\(grouped(bareRate)) jobs/s"))
        report.add(Figure(name, "calsync / bare limit (was ≥ 60 %)", "\(grouped(ratio * 100)) %"))
        report.details.append(
            "Export throughput: \(grouped(Double(exports))) jobs in \(grouped(run.seconds, decimals: 2)) s; \(run.check); "
                + "CPU per job: \(run.cpu.perJob(exports)); worker peak RSS \(megabytes(run.peakRSS)).")
        report.details.append("Round trips (export throughput): \(run.roundTrips) (the benchmark's polling of the queue counts too).")
        let perJob = (run.cpu.worker + run.cpu.redis + run.cpu.postgres + run.cpu.bench) / Double(exports)
        let others = (run.cpu.redis + run.cpu.postgres + run.cpu.bench) / Double(exports)
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        report.details.append(
            "CPU budget: an export costs \(grouped(perJob * 1e6)) µs of CPU across all processes, so \(Int(cores)) cores allow at most "
                + "\(grouped(cores / perJob)) exports/s; Redis, PostgreSQL and the sandbox alone take \(grouped(others * 1e6)) µs, "
                + "a ceiling of \(grouped(cores / others)) exports/s even for a worker that cost nothing.")
        report.details.append(
            "Bare limit: claim/ack scripts \(grouped(bare.redis, decimals: 2)) s (\(grouped(Double(exports) / bare.redis)) jobs/s), "
                + "PostgreSQL statements \(grouped(bare.postgres, decimals: 2)) s (\(grouped(Double(exports) / bare.postgres)) jobs/s), "
                + "both at concurrency 64 from this process; the limit is jobs / (sum of both).")
    }

    private func exportUnderLatency(_ rig: BenchRig, _ memberIDs: [String], _ report: inout Report) async throws {
        let jobs = exports / 2
        let concurrency = 256
        print("\n[2] export under 100 ms provider latency: \(jobs) jobs, one worker, CALSYNC_WORKER_CONCURRENCY=\(concurrency)")
        let fault = rig.sandbox.addFault(SandboxFault(.latency(milliseconds: 100), provider: .google))
        defer { rig.sandbox.removeFault(id: fault) }
        let run = try await rig.timedExports(
            tag: "l", jobs: jobs, members: memberIDs, environment: ["CALSYNC_WORKER_CONCURRENCY": String(concurrency)])
        let name = "2 export, 100 ms"
        report.add(Figure(name, "exports/s (one worker)", grouped(run.jobsPerSecond), target: "≥ 1,000", met: run.complete && run.jobsPerSecond >= 1_000))
        report.add(Figure(name, "jobs in flight (mean / max)", "\(grouped(run.inFlightMean)) / \(run.inFlightMax)"))
        report.details.append(
            "Export under latency: \(grouped(Double(jobs))) jobs in \(grouped(run.seconds, decimals: 2)) s with concurrency \(concurrency); "
                + "\(run.check); CPU per job: \(run.cpu.perJob(jobs)).")
    }

    private func steadyLatency(_ rig: BenchRig, _ memberIDs: [String], _ report: inout Report) async throws {
        let rate = 200.0
        let jobs = 3_000
        print("\n[3] latency at a steady \(Int(rate)) exports/s: \(jobs) jobs, one default worker")
        let latencies = try await rig.steadyLatency(rate: rate, count: jobs, members: memberIDs)
        let name = "3 steady 200/s"
        let p99 = quantile(latencies, 0.99)
        report.add(Figure(name, "enqueue → provider p50", "\(grouped(quantile(latencies, 0.5), decimals: 1)) ms"))
        report.add(Figure(name, "enqueue → provider p99", "\(grouped(p99, decimals: 1)) ms", target: "≤ 25 ms", met: p99 <= 25))
        report.add(Figure(name, "enqueue → provider max", "\(grouped(latencies.last ?? .nan, decimals: 1)) ms"))
        report.details.append(
            "Steady latency: \(grouped(Double(jobs))) jobs LPUSHed one at a time every \(grouped(1000 / rate, decimals: 1)) ms; latency is from just "
                + "before the LPUSH to the arrival of the event's write at the sandbox (same clock).")
    }

    private func importCost(_ rig: BenchRig, _ report: inout Report) async throws {
        let events = 10_000
        print("\n[4] import: \(events) busy events (4 pages of 2,500), then incremental imports")
        let run = try await rig.importScenario(events: events)
        let name = "4 import"
        report.add(
            Figure(name, "full import of 10,000 events", "\(grouped(run.full.seconds, decimals: 2)) s", target: "≤ 1 s", met: run.stored == events && run.full.seconds <= 1))
        report.add(Figure(name, "  requests / rows written", "\(run.full.requests) / \(grouped(Double(run.full.rowsWritten)))"))
        report.add(Figure(name, "incremental, 1 changed event: requests / rows", "\(run.oneChange.requests) / \(run.oneChange.rowsWritten)"))
        report.add(
            Figure(name, "incremental, no change: requests / rows", "\(run.noChange.requests) / \(run.noChange.rowsWritten)", target: "1 / 0",
                   met: run.noChange.requests == 1 && run.noChange.rowsWritten == 0))
        report.details.append(
            "Import: \(grouped(Double(run.stored))) busy blocks stored; rows written count busy blocks and sync cursors inserted, updated or deleted "
                + "(the connection's last_inbound_sync_at stamp is written on every import and is not counted); "
                + "incremental imports took \(grouped(run.oneChange.seconds * 1000)) ms and \(grouped(run.noChange.seconds * 1000)) ms.")
    }

    private func caldavImportCost(_ rig: BenchRig, _ report: inout Report) async throws {
        let events = 10_000
        print("\n[7] CalDAV import: \(events) events in a local Radicale, one calendar-query with every object's data")
        guard let run = try await rig.caldavImportScenario(events: events) else {
            report.details.append("CalDAV import: skipped, no Radicale (run scripts/services.sh deps).")
            return
        }
        let name = "7 caldav"
        report.add(
            Figure(name, "full CalDAV import of 10,000 events (Radicale)", "\(grouped(run.full.seconds, decimals: 2)) s", target: "≤ 2 s",
                   met: run.stored == events && run.full.seconds <= 2))
        report.add(Figure(name, "  requests / rows written", "\(run.full.requests) / \(grouped(Double(run.full.rowsWritten)))"))
        report.add(Figure(name, "incremental, no change: requests / rows", "\(run.noChange.requests) / \(run.noChange.rowsWritten)"))
        report.add(Figure(name, "incremental, 1 new event: requests / rows", "\(run.oneChange.requests) / \(run.oneChange.rowsWritten)"))
        report.details.append(
            "CalDAV import: \(grouped(Double(run.stored))) busy blocks stored from Radicale (uploaded in \(grouped(run.uploadSeconds, decimals: 1)) s); "
                + "requests are the worker's own (PROPFIND of the sync token, one calendar-query answering every object's data); "
                + "an unchanged calendar costs one sync-collection; a change reads the window again "
                + "(\(grouped(run.noChange.seconds * 1000)) ms and \(grouped(run.oneChange.seconds * 1000)) ms).")
    }

    private func memory(_ rig: BenchRig, _ memberIDs: [String], _ report: inout Report) async throws {
        let concurrency = 1_000
        let jobs = 3_000
        print("\n[5] memory: an idle worker, then \(concurrency) jobs in flight (1 s provider latency)")
        let result = try await rig.memoryScenario(jobs: jobs, concurrency: concurrency, members: memberIDs)
        let name = "5 memory"
        report.add(Figure(name, "worker RSS idle", megabytes(result.idle), target: "≤ 64 MB", met: result.idle <= 64 << 20))
        report.add(
            Figure(name, "worker RSS peak, \(result.maxInFlight) in flight", megabytes(result.peak), target: "≤ 200 MB",
                   met: result.peak <= 200 << 20 && result.maxInFlight >= concurrency && result.run.complete))
        report.details.append(
            "Memory: idle RSS with default settings after 3 s without work; with CALSYNC_WORKER_CONCURRENCY=\(concurrency) the idle RSS "
                + "is \(megabytes(result.idleWide)); the peak is VmHWM over \(grouped(Double(jobs))) jobs held 1 s each at the provider "
                + "(in flight counts leases in Redis: a finished job's slot is reused while its ack is on its way, so the count can exceed the concurrency) "
                + "(\(grouped(result.run.jobsPerSecond)) jobs/s, \(result.run.check)).")
    }

    private func scheduler(_ rig: BenchRig, _ memberIDs: [String], _ report: inout Report) async throws {
        let connections = grouped(Double(schedulerConnections))
        print("\n[6] scheduler: one tick over \(schedulerConnections) due connections (calsync scheduler --once), idle and under load")
        let result = try await rig.schedulerAtScale(connections: schedulerConnections)
        let name = "6 scheduler"
        report.add(
            Figure(name, "one tick over \(connections) connections, idle machine", "\(grouped(result.tick, decimals: 2)) s"))
        report.add(Figure(name, "  jobs enqueued", grouped(Double(result.enqueued))))
        let loaded = try await rig.schedulerUnderLoad(connections: schedulerConnections, load: exports * 2, members: memberIDs)
        report.add(
            Figure(name, "one tick over \(connections) connections while a worker exports at full speed", "\(grouped(loaded.tick.tick, decimals: 2)) s",
                   target: "≤ 3 s", met: loaded.held && loaded.tick.tick <= 3 && loaded.tick.enqueued >= schedulerConnections))
        report.details.append(
            "Scheduler: the tick's duration is the one it logs; the whole `calsync scheduler --once` process took "
                + "\(grouped(result.wall, decimals: 2)) s (start-up, checks and exit included). Under load, one worker was exporting "
                + "(\(grouped(Double(exports * 2))) jobs pushed a second before the scheduler started; it took \(grouped(loaded.exportsPerSecond)) export jobs/s "
                + "while the scheduler process ran; \(loaded.held ? "exports were still queued when it ended" : "THE EXPORTS RAN OUT before it ended")); "
                + "the scheduler wrote to its own Redis prefix, so that the worker did not take its \(grouped(Double(loaded.tick.enqueued))) imports.")
        guard schedulerLargeConnections > 0 else { return }
        let large = grouped(Double(schedulerLargeConnections))
        print("    one tick over \(schedulerLargeConnections) due connections")
        let small = result
        let big = try await rig.schedulerAtScale(connections: schedulerLargeConnections)
        report.add(
            Figure(name, "one tick over \(large) connections", "\(grouped(big.tick, decimals: 2)) s", target: "≤ 30 s",
                   met: big.tick <= 30 && big.enqueued >= schedulerLargeConnections))
        let flat = Double(big.peakRSS) <= Double(small.peakRSS) * 1.25
        report.add(
            Figure(name, "  scheduler peak RSS at \(connections) / \(large)", "\(megabytes(small.peakRSS)) / \(megabytes(big.peakRSS))",
                   target: "flat", met: flat))
        report.details.append(
            "Scheduler at scale: \(large) members with a due connection each; peak RSS sampled every 20 ms (VmHWM); \(grouped(Double(big.enqueued))) "
                + "imports enqueued (under their own prefix); the process took \(grouped(big.wall, decimals: 1)) s in all.")
    }

    // MARK: cost per job and scaling

    private func jobCosts(_ rig: BenchRig, _ memberIDs: [String], _ report: inout Report) async throws {
        let members = BenchRig.costMembers(costMembers)
        print("\n[1] cost per job: an import of 100 events (\(costMembers) members) and a refresh_token (\(memberIDs.count) members × 3)")
        let imports = try await rig.importCost(members: members, eventsEach: 100)
        let refresh = try await rig.refreshCost(members: memberIDs, rounds: 3)
        let name = "1 cost per job"
        func us(_ cost: BenchRig.JobCost) -> String { cost.complete ? grouped(cost.workerMicroseconds) : "\(grouped(cost.workerMicroseconds)) (INCOMPLETE)" }
        report.add(Figure(name, "worker CPU per import of 100 new events (µs)", us(imports.first)))
        report.add(Figure(name, "worker CPU per import of 100 unchanged events (µs)", us(imports.again)))
        report.add(Figure(name, "worker CPU per refresh_token (µs)", us(refresh)))
        report.details.append(
            "Cost per job: \(imports.first.jobs) full imports of 100 events each (\(imports.first.check)) in \(grouped(imports.first.seconds, decimals: 2)) s, "
                + "then again with nothing changed in \(grouped(imports.again.seconds, decimals: 2)) s; \(refresh.jobs) forced refresh_token jobs "
                + "(\(refresh.check)) in \(grouped(refresh.seconds, decimals: 2)) s. CPU per job: import \(imports.first.cpu.perJob(imports.first.jobs)); "
                + "refresh \(refresh.cpu.perJob(refresh.jobs)).")
    }

    private func scaling(_ rig: BenchRig, _ memberIDs: [String], _ report: inout Report) async throws {
        let jobs = exports / 2
        print("\n[1] scaling: \(jobs) exports at concurrency 16, 64 and 256 (one worker), then with 2 and 4 worker processes")
        let name = "1 scaling"
        let runs: [(String, [String: String], Int)] = [
            ("one worker, concurrency 16", ["CALSYNC_WORKER_CONCURRENCY": "16"], 1),
            ("one worker, concurrency 64", ["CALSYNC_WORKER_CONCURRENCY": "64"], 1),
            ("one worker, concurrency 256", ["CALSYNC_WORKER_CONCURRENCY": "256"], 1),
            ("2 workers, concurrency 64 each", ["CALSYNC_WORKER_CONCURRENCY": "64"], 2),
            ("4 workers, concurrency 64 each", ["CALSYNC_WORKER_CONCURRENCY": "64"], 4),
        ]
        for (index, (label, environment, workers)) in runs.enumerated() {
            let run = try await rig.timedExports(tag: "k\(index)", jobs: jobs, members: memberIDs, environment: environment, workers: workers)
            let perJob = run.cpu.worker / Double(jobs) * 1e6
            report.add(
                Figure(name, "\(label): exports/s · worker CPU per export", "\(grouped(run.jobsPerSecond)) · \(grouped(perJob)) µs\(run.complete ? "" : " (INCOMPLETE)")"))
            report.details.append("Scaling, \(label): \(run.check); CPU per job: \(run.cpu.perJob(jobs)).")
        }
    }
}

extension CalsyncBench {
    fileprivate func console(_ rig: BenchRig, _ report: inout Report) async throws {
        let samples = 20
        print("\n[7] console: \(consoleDeadRecords) dead records; server time of the dead-jobs page and the overview (\(samples) requests each)")
        let run = try await rig.consoleScenario(records: consoleDeadRecords, samples: samples)
        let name = "7 console"
        let records = grouped(Double(consoleDeadRecords))
        func ms(_ value: Double) -> String { "\(grouped(value, decimals: 1)) ms" }
        let p95 = quantile(run.deadFirst, 0.95)
        report.add(Figure(name, "dead jobs, first page, \(records) records (p50 / p95)", "\(ms(quantile(run.deadFirst, 0.5))) / \(ms(p95))", target: "≤ 200 ms", met: p95 <= 200))
        let deep = quantile(run.deadDeep, 0.95)
        report.add(Figure(name, "dead jobs, a page half-way down (p95)", ms(deep), target: "≤ 200 ms", met: deep <= 200))
        let filtered = quantile(run.deadFiltered, 0.95)
        report.add(Figure(name, "dead jobs, filtered by a 1 % type (p95)", ms(filtered), target: "≤ 200 ms", met: filtered <= 200))
        report.add(Figure(name, "overview (p50 / p95)", "\(ms(quantile(run.overview, 0.5))) / \(ms(quantile(run.overview, 0.95)))"))
        report.details.append(
            "Console: server time is the console's own Server-Timing header (request in to response rendered), "
                + "50 records a page; the deep page starts from a cursor at record \(grouped(Double(consoleDeadRecords / 2))).")
    }
}

/// Bytes as megabytes with one decimal.
func megabytes(_ bytes: Int) -> String {
    "\(grouped(Double(bytes) / 1_048_576, decimals: 1)) MB"
}
