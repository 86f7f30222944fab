import ArgumentParser
import AsyncHTTPClient
import CalsyncJobs
import CalsyncQueue
import CalsyncRedis
import CalsyncSandbox
import CalsyncStore
import CalsyncSync
import CalsyncTestSupport
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import NIOPosix
import PostgresNIO

#if canImport(Glibc)
    import Glibc
#endif

/// The floor scenario: what the mandated stack costs at the least per export, each part measured in the
/// process doing the work (`/proc/PID/stat`): the queue engine alone (a real worker running no-op jobs),
/// one provider request alone (AsyncHTTPClient in a child process), the PostgreSQL statements of one export
/// alone (postgres-nio through the store's batchers, in a child process), and one Redis command alone.
extension BenchRig {
    /// The CPU one child or worker process spent on a batch of work.
    struct FloorPart: Sendable {
        /// Units of work done (jobs, requests, exports, commands).
        var count: Int
        /// Wall time of the batch.
        var seconds: Double
        /// CPU seconds (user + system) of the process doing the work.
        var cpu: Double
        /// Of which in the kernel (system time).
        var system = 0.0
        /// Units that did not succeed (a non-2xx answer, a missing completion).
        var failed: Int = 0

        /// CPU per unit in microseconds.
        var microseconds: Double { cpu / Double(max(count, 1)) * 1e6 }
        /// Units per second.
        var rate: Double { Double(count) / seconds }
        /// `123 µs (45 % kernel; 4,567/s)`, marked when some units failed.
        var text: String {
            "\(grouped(microseconds)) µs (\(grouped(system / max(cpu, 1e-9) * 100)) % kernel; \(grouped(rate))/s\(failed > 0 ? ", \(failed) FAILED" : ""))"
        }
    }

    /// The queue engine alone: `calsync worker --diagnostic-jobs` (concurrency `concurrency`) runs `jobs`
    /// `diag_echo` jobs with an empty payload (no sleep; each still RPUSHes its id to `<prefix>:diag:done`).
    func floorEngine(jobs: Int, concurrency: Int) async throws -> FloorPart {
        let worker = try BenchProcess(
            rig: self, arguments: ["worker", "--diagnostic-jobs"],
            environment: environment(["CALSYNC_WORKER_CONCURRENCY": String(concurrency)]), name: "floor-worker",
            wrapper: workerWrapper)
        do {
            try await worker.waitForLog("worker started", timeout: .seconds(workerWrapper.isEmpty ? 30 : 300))
            let done = "calsync:diag:done"
            _ = try await redis.send(["DEL", done])
            let tag = UUID().uuidString.prefix(8)
            let envelopes = (0..<jobs).map { JobQueue.envelope(id: "floor-\(tag)-\($0)", type: DiagnosticJobHandler.type, payload: "{}") }
            let meter = CPUMeter(workerPID: worker.child.pid, servers: servers)
            let systemBefore = systemSeconds(pid: worker.child.pid) ?? 0
            let started = ContinuousClock.now
            try await push(DiagnosticJobHandler.type, envelopes)
            let deadline = started + .seconds(300)
            var completed = 0
            while completed < jobs, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
                completed = try await redis.send(["LLEN", done]).int ?? 0
            }
            let finished = ContinuousClock.now
            let cpu = meter.elapsed()
            let system = (systemSeconds(pid: worker.child.pid) ?? 0) - systemBefore
            _ = try await redis.send(["DEL", done])
            await worker.stop()
            return FloorPart(count: jobs, seconds: secondsOf(finished - started), cpu: cpu.worker, system: system, failed: jobs - completed)
        } catch {
            await worker.stop()
            throw error
        }
    }

    /// Runs this benchmark binary's hidden `floor-child` command with `arguments` (and `extra` in its
    /// environment) to its end and returns the figures it printed.
    func floorChild(_ arguments: [String], _ extra: [String: String] = [:]) async throws -> FloorPart {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let log = workDirectory.appendingPathComponent("floor-child-\(UUID().uuidString.prefix(8)).log").path
        let child = try ChildProcess(
            executable: executable, arguments: ["--calsync", calsync, "floor-child"] + arguments, environment: environment(extra), stdoutPath: log,
            stderrPath: log)
        guard let status = await child.wait(timeout: .seconds(300)) else {
            await child.kill9()
            throw BenchError("floor-child \(arguments.joined(separator: " ")) did not finish within 300 s")
        }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard status == 0, let line = output.split(separator: "\n").last(where: { $0.hasPrefix(FloorChild.resultPrefix) }) else {
            throw BenchError("floor-child \(arguments.joined(separator: " ")) exited with \(status):\n\(output.suffix(4_000))")
        }
        return try FloorChild.parse(line)
    }

    /// One provider request alone: `requests` POSTs of an export's event JSON to the members' sandbox calendars,
    /// `concurrency` in flight, from a child process; `pool` is `worker` (the worker's HTTP client configuration)
    /// or `default` (AsyncHTTPClient's default pool of 8 connections per host, the rest as the worker's).
    func floorHTTP(
        requests: Int, concurrency: Int, members: [String], pool: String, variant: String = "", server: Int? = nil
    ) async throws -> FloorPart {
        // Each member's events URL and a fresh sandbox access token, in a file only this user can read.
        let targets = workDirectory.appendingPathComponent("floor-targets-\(UUID().uuidString.prefix(8))").path
        var lines: [String] = []
        for member in members {
            guard let tokens = sandbox.issueTokens(.google, email: Self.email(member)) else {
                throw BenchError("floor: member \(member) has no sandbox account")
            }
            // As the Google client encodes a calendar id (RFC 3986 unreserved characters kept).
            let calendar = Self.email(member).addingPercentEncoding(withAllowedCharacters: Self.unreserved) ?? Self.email(member)
            let api = server.map { "http://127.0.0.1:\($0)/google/calendar/v3" } ?? endpoints.googleAPI
            lines.append("\(member)\t\(api)/calendars/\(calendar)/events\t\(tokens.accessToken)")
        }
        _ = FileManager.default.createFile(atPath: targets, contents: nil, attributes: [.posixPermissions: 0o600])
        try lines.joined(separator: "\n").write(toFile: targets, atomically: false, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: targets) }
        sandbox.clearRequests()
        let part = try await floorChild([
            "http", "--requests", String(requests), "--concurrency", String(concurrency), "--pool", pool, "--targets", targets,
            "--variant", variant,
        ])
        if server != nil { return part }
        let written = successfulWrites().count
        // Every warm-up request succeeded (the child checks), then the timed ones that did.
        let expected = FloorChild.warmUp(concurrency: concurrency) + part.count - part.failed
        guard written == expected else {
            throw BenchError("floor http: the sandbox saw \(written) successful writes, the child \(expected)")
        }
        return part
    }

    /// One provider request alone against a server that answers at once (`floor-child server`, its own process):
    /// what AsyncHTTPClient costs when the sandbox's pace is out of the picture.
    func floorHTTPInstant(requests: Int, concurrency: Int, members: [String]) async throws -> FloorPart {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let log = workDirectory.appendingPathComponent("floor-server-\(UUID().uuidString.prefix(8)).log").path
        let server = try ChildProcess(
            executable: executable, arguments: ["--calsync", calsync, "floor-child", "server"], environment: environment([:]), stdoutPath: log, stderrPath: log)
        defer { server.signal(SIGKILL) }
        let deadline = ContinuousClock.now + .seconds(30)
        var port: Int?
        while port == nil, ContinuousClock.now < deadline, server.isRunning {
            try await Task.sleep(for: .milliseconds(20))
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            port = output.split(separator: "\n").first { $0.hasPrefix(CannedHTTPServer.portPrefix) }
                .flatMap { Int($0.dropFirst(CannedHTTPServer.portPrefix.count)) }
        }
        guard let port else { throw BenchError("floor-child server did not start:\n\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")") }
        let part = try await floorHTTP(requests: requests, concurrency: concurrency, members: members, pool: "worker", server: port)
        server.signal(SIGTERM)
        _ = await server.wait(timeout: .seconds(5))
        return part
    }

    /// RFC 3986's unreserved characters.
    static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    /// The PostgreSQL statements of `exports` exports alone (the bare limit's, plus the write intent the export
    /// records before its provider write), `concurrency` at a time, from a child process with the worker's
    /// database configuration; also the statements (transactions) per export.
    func floorPostgres(exports: Int, concurrency: Int, members: Int) async throws -> (part: FloorPart, statements: Double) {
        let commitsBefore = try await postgresCommits()
        let part = try await floorChild([
            "postgres", "--requests", String(exports), "--concurrency", String(concurrency), "--members", String(members),
        ])
        // A backend reports its counters when it ends: the child is gone.
        try await Task.sleep(for: .milliseconds(200))
        let statements = Double(try await postgresCommits() - commitsBefore) / Double(exports)
        try await execute("DELETE FROM appointment_exports WHERE appointment_id LIKE 'floor-%'")
        try await execute("DELETE FROM export_write_intents WHERE appointment_id LIKE 'floor-%'")
        return (part, statements)
    }

    /// One Redis command alone: `commands` RPUSHes (the diagnostic job's) through the worker's Redis client
    /// (its pool of 4), `concurrency` in flight, from a child process.
    func floorRedis(commands: Int, concurrency: Int) async throws -> FloorPart {
        let part = try await floorChild(["redis", "--requests", String(commands), "--concurrency", String(concurrency)])
        _ = try await redis.send(["DEL", FloorChild.redisKey])
        return part
    }

    /// The PostgreSQL statements of `jobs` exports (a member and export state read, with `writeIntent` the
    /// provider write's intent as the export's fenced write records it, then the record) through `store`,
    /// `concurrency` at a time; appointments are `<tag>-N`.
    static func exportStatements(
        store: PostgresSyncStore, members: [String], connections: [String: String], jobs: Int, concurrency: Int, tag: String,
        writeIntent: Bool = false
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for lane in 0..<concurrency {
                group.addTask {
                    var index = lane
                    while index < jobs {
                        let member = members[index % members.count]
                        let appointment = "\(tag)-\(index)"
                        guard let (state, _) = try await store.memberState(member, exportOf: appointment, revision: 1), state.eligible else {
                            throw BenchError("\(tag): member \(member) is missing")
                        }
                        let connection = connections[member] ?? ""
                        var token: String?
                        if writeIntent {
                            let intent = ProviderWriteIntent(
                                memberID: member, appointmentID: appointment, revision: 1, token: UUID().uuidString,
                                settlesAt: Date().addingTimeInterval(300))
                            try await store.beginProviderWrite(intent)
                            token = intent.token
                        }
                        _ = try await store.recordExport(
                            memberID: member, appointmentID: appointment, revision: 1,
                            state: ExportState(
                                appliedRevision: 1, connectionID: connection, calendarID: Self.email(member),
                                externalEventID: "\(tag)\(index)", contentHash: "hash", eventPresent: true),
                            calledConnectionID: connection, writeToken: token)
                        index += concurrency
                    }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// The child processes of the floor scenario (hidden): each does one kind of work alone and prints its own
/// CPU (`/proc/self/stat`) over the timed part, after a warm-up that opens its connections.
struct FloorChild: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floor-child", abstract: "One part of the floor scenario alone (spawned by the benchmark).", shouldDisplay: false)

    /// The start of the line that carries the figures.
    static let resultPrefix = "floor-result "
    /// The list the Redis child pushes to.
    static let redisKey = "calsync-floor:done"

    @Argument(help: "http, postgres, redis, or server (answers every request at once, until SIGTERM).")
    var part: String

    @Option(help: "Units of work timed.")
    var requests = 20_000

    @Option(help: "Units in flight.")
    var concurrency = 64

    @Option(help: "HTTP: worker (the worker's client configuration) or default (AsyncHTTPClient's pool defaults).")
    var pool = "worker"

    @Option(help: "Departures from the worker's set-up, comma-separated: default-executor (tasks on Swift's executor), no-decompression.")
    var variant = ""

    @Option(help: "HTTP: a file of `member<TAB>events URL<TAB>access token` lines.")
    var targets: String?

    @Option(help: "PostgreSQL: members m0001… the exports are spread over.")
    var members = 200

    func run() async throws {
        let variants = Set(variant.split(separator: ",").map(String.init))
        let unknown = variants.subtracting(["default-executor", "no-decompression"])
        guard unknown.isEmpty else { throw ValidationError("unknown variant: \(unknown.sorted().joined(separator: ", "))") }
        // As the worker does (ProcessServices.runTasksOnEventLoops): tasks run on NIO's event loops.
        if !variants.contains("default-executor") {
            _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        lineBufferStandardOutput()
        var logger = Logger(label: "calsync.bench.floor")
        logger.logLevel = .warning
        let warmUp = Self.warmUp(concurrency: concurrency)
        let result: BenchRig.FloorPart
        switch part {
        case "http": result = try await http(warmUp: warmUp, decompression: !variants.contains("no-decompression"))
        case "postgres": result = try await postgres(warmUp: warmUp, logger: logger)
        case "redis": result = try await redis(warmUp: warmUp, logger: logger)
        case "server": return try await CannedHTTPServer.serve()
        default: throw ValidationError("unknown part '\(part)': http, postgres, redis or server")
        }
        print("\(Self.resultPrefix)count=\(result.count) seconds=\(result.seconds) cpu=\(result.cpu) system=\(result.system) failed=\(result.failed)")
    }

    /// Units done before the timed ones (4 per lane: every connection opened, the pools settled).
    static func warmUp(concurrency: Int) -> Int { concurrency * 4 }

    /// Runs `body(index)` for `count` indexes, `concurrency` at a time; returns how many returned false.
    private func lanes(_ count: Int, offset: Int, _ body: @escaping @Sendable (Int) async throws -> Bool) async throws -> Int {
        let concurrency = self.concurrency
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for lane in 0..<concurrency {
                group.addTask {
                    var failed = 0
                    var index = lane
                    while index < count {
                        if !(try await body(offset + index)) { failed += 1 }
                        index += concurrency
                    }
                    return failed
                }
            }
            return try await group.reduce(0, +)
        }
    }

    /// Warms up with `warmUp` units, then times `requests` units and this process's CPU over them.
    private func measure(warmUp: Int, _ body: @escaping @Sendable (Int) async throws -> Bool) async throws -> BenchRig.FloorPart {
        let warmFailed = try await lanes(warmUp, offset: 0, body)
        guard warmFailed == 0 else { throw BenchError("floor-child \(part): \(warmFailed) of \(warmUp) warm-up units failed") }
        let meter = FloorMeter()
        let failed = try await lanes(requests, offset: warmUp, body)
        return meter.part(count: requests, failed: failed)
    }

    /// The HTTP client: the worker's configuration (HTTPClientService in CalsyncApp's SyncAssembly), or with
    /// AsyncHTTPClient's default connection pool.
    static func httpClient(pool: String, concurrency: Int, decompression: Bool = true) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        if pool == "worker" {
            configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(8, concurrency)
            configuration.connectionPool.idleTimeout = .seconds(60)
        }
        configuration.decompression = decompression ? .enabled(limit: .ratio(20)) : .disabled
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    private func http(warmUp: Int, decompression: Bool) async throws -> BenchRig.FloorPart {
        guard let targets, let text = try? String(contentsOfFile: targets, encoding: .utf8) else {
            throw ValidationError("--targets: a readable file of targets is required")
        }
        let members = text.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }.filter { $0.count == 3 }
        guard !members.isEmpty else { throw ValidationError("--targets holds no target") }
        // The bodies are calsync's work, not the library's: made before the clock starts. Each is a new event
        // (revision 1) under its own deterministic id, as the export's insert sends it (GoogleEventWrite).
        let base = BenchRig.appointmentBase
        let run = UUID().uuidString.prefix(8)
        let bodies: [ByteBuffer] = (0..<(warmUp + requests)).map { index in
            let member = members[index % members.count][0]
            let key = ExportKey(memberID: member, appointmentID: "floor-\(run)-\(index)")
            let start = base.addingTimeInterval(Double(index % 2_880) * 1_800)
            return ByteBuffer(string: Self.eventJSON(id: key.googleEventID, marker: key.markerValue, start: start, end: start.addingTimeInterval(1_800)))
        }
        let client = Self.httpClient(pool: pool, concurrency: concurrency, decompression: decompression)
        do {
            let result = try await measure(warmUp: warmUp) { index in
                let target = members[index % members.count]
                var request = HTTPClientRequest(url: target[1])
                request.method = .POST
                request.headers.add(name: "User-Agent", value: "calsync/1")
                request.headers.add(name: "Accept", value: "application/json")
                request.headers.add(name: "Authorization", value: "Bearer \(target[2])")
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(bodies[index])
                let response = try await client.execute(request, deadline: .now() + .seconds(30))
                _ = try await response.body.collect(upTo: 8 * 1024 * 1024)
                return response.status == .ok
            }
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// An inserted event's JSON as the Google client writes it (private "Busy", the marker property).
    static func eventJSON(id: String, marker: String, start: Date, end: Date) -> String {
        func time(_ date: Date) -> String { "{\"dateTime\":\"\(RFC3339.format(date))\",\"timeZone\":\"Europe/Berlin\"}" }
        return "{\"id\":\"\(id)\",\"summary\":\"Busy\",\"description\":\"\",\"location\":\"\",\"start\":\(time(start)),\"end\":\(time(end)),"
            + "\"visibility\":\"private\",\"transparency\":\"opaque\",\"extendedProperties\":{\"private\":{\"\(ExportMarker.propertyName)\":\"\(marker)\"}}}"
    }

    private func postgres(warmUp: Int, logger: Logger) async throws -> BenchRig.FloorPart {
        // The worker's database configuration: the URL's settings with every connection kept open.
        var configuration = try DatabaseConfiguration(url: TestEnvironment.databaseURL)
        configuration.persistentConnections = true
        let database = Database(configuration: configuration, logger: logger)
        try await database.checkConnectivity(timeout: .seconds(5))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await database.client.run() }
            defer { group.cancelAll() }
            let store = PostgresSyncStore(client: database.client, logger: logger)
            let members = BenchRig.memberIDs(self.members)
            var connections: [String: String] = [:]
            let rows = try await database.client.query(
                "SELECT member_id, id::text FROM calendar_connections WHERE member_id = ANY(\(members))", logger: logger)
            for try await (member, id) in rows.decode((String, String).self) { connections[member] = id }
            let tag = "floor-\(UUID().uuidString.prefix(8))"
            try await BenchRig.exportStatements(
                store: store, members: members, connections: connections, jobs: warmUp, concurrency: concurrency, tag: tag + "w", writeIntent: true)
            let meter = FloorMeter()
            try await BenchRig.exportStatements(
                store: store, members: members, connections: connections, jobs: requests, concurrency: concurrency, tag: tag, writeIntent: true)
            return meter.part(count: requests, failed: 0)
        }
    }

    private func redis(warmUp: Int, logger: Logger) async throws -> BenchRig.FloorPart {
        // The worker's Redis client and pool size (WorkerAssembly).
        let client = RedisClient.running(configuration: try RedisConfiguration(url: TestEnvironment.redisURL), logger: logger, poolSize: 4)
        defer { client.close() }
        _ = try await client.send(["PING"])
        let key = Self.redisKey
        return try await measure(warmUp: warmUp) { index in
            _ = try await client.send(["RPUSH", key, "floor-\(index)"])
            return true
        }
    }

    /// Reads the figures of a `floor-result` line.
    static func parse(_ line: Substring) throws -> BenchRig.FloorPart {
        var values: [String: Double] = [:]
        for pair in line.dropFirst(resultPrefix.count).split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { values[String(parts[0])] = value }
        }
        guard let count = values["count"], let seconds = values["seconds"], let cpu = values["cpu"] else {
            throw BenchError("floor-child printed no figures: \(line)")
        }
        return BenchRig.FloorPart(
            count: Int(count), seconds: seconds, cpu: cpu, system: values["system"] ?? 0, failed: Int(values["failed"] ?? 0))
    }
}

extension CalsyncBench {
    /// The floor scenario: each part of an export done alone by the mandated libraries, beside the worker's
    /// CPU per export measured in the same minutes.
    func floor(_ rig: BenchRig, _ memberIDs: [String], _ report: inout Report) async throws {
        let concurrency = 64
        let comparison = exports / 2
        print(
            "\n[1] floor: \(exports) no-op jobs in a worker, \(exports) HTTP requests and the SQL of \(exports) exports in child processes "
                + "(concurrency \(concurrency)), then \(comparison) exports for comparison")
        let engine = try await rig.floorEngine(jobs: exports, concurrency: concurrency)
        let http = try await rig.floorHTTP(requests: exports, concurrency: concurrency, members: memberIDs, pool: "worker")
        let httpDefault = try await rig.floorHTTP(requests: exports, concurrency: concurrency, members: memberIDs, pool: "default")
        let instant = try await rig.floorHTTPInstant(requests: exports, concurrency: concurrency, members: memberIDs)
        let postgres = try await rig.floorPostgres(exports: exports, concurrency: concurrency, members: memberIDs.count)
        let redis = try await rig.floorRedis(commands: exports, concurrency: concurrency)
        var variants: [(String, BenchRig.FloorPart)] = []
        for variant in floorVariants {
            variants.append((variant, try await rig.floorHTTP(requests: exports, concurrency: concurrency, members: memberIDs, pool: "worker", variant: variant)))
        }
        let export = try await rig.timedExports(
            tag: "f", jobs: comparison, members: memberIDs, environment: ["CALSYNC_WORKER_CONCURRENCY": String(concurrency)])
        let worker = export.cpu.worker / Double(comparison) * 1e6
        let sum = engine.microseconds + http.microseconds + postgres.part.microseconds
        let name = "1 floor"
        report.add(Figure(name, "queue engine alone: worker CPU per no-op diag_echo job (µs)", engine.text))
        report.add(Figure(name, "one provider request alone (AsyncHTTPClient, the worker's pool of 64): CPU per request (µs)", http.text))
        report.add(Figure(name, "  the same with AsyncHTTPClient's default pool (8 connections per host)", httpDefault.text))
        report.add(Figure(name, "  the same against a server that answers at once (a minimal SwiftNIO server, no sandbox)", instant.text))
        for (variant, part) in variants { report.add(Figure(name, "  the same with \(variant)", part.text)) }
        report.add(Figure(name, "the PostgreSQL statements of one export alone (postgres-nio): CPU per export (µs)", postgres.part.text))
        report.add(Figure(name, "one Redis command alone (hiredis, RPUSH): CPU per command (µs)", redis.text))
        report.add(
            Figure(
                name, "sum of the floors (engine + request + statements) · worker CPU per export (µs)",
                "\(grouped(sum)) · \(grouped(worker))\(export.complete ? "" : " (INCOMPLETE)") (\(grouped(sum / worker * 100)) %)",
                target: "information (the headline's is ≤ 150)"))
        let instantSum = engine.microseconds + instant.microseconds + postgres.part.microseconds
        report.add(Figure(name, "  the same sum with the request against the server that answers at once (µs)", grouped(instantSum)))
        report.details.append(
            "Floor: CPU (user + system, /proc/PID/stat) of the process doing the work only, at concurrency \(concurrency). "
                + "The engine is `calsync worker --diagnostic-jobs` running \(grouped(Double(exports))) `diag_echo` jobs with an empty payload "
                + "(claim, lease, handler, ack; the handler still RPUSHes its id once, a Redis command the floor includes); "
                + "the request, statements and Redis command parts ran in child processes of this binary (`CalsyncBench floor-child`) with "
                + "the worker's client configurations, tasks on NIO's event loops as in the worker, after a warm-up of \(FloorChild.warmUp(concurrency: concurrency)) units: "
                + "\(grouped(Double(exports))) POSTs of an inserted event's JSON to the members' sandbox calendars (the sandbox's CPU is not "
                + "counted; then the same to a SwiftNIO server in its own process answering each with a fixed 200 JSON at once), the member/export read, the write intent and the record of \(grouped(Double(exports))) exports through PostgresSyncStore "
                + "(its batchers; \(grouped(postgres.statements, decimals: 2)) statements per export), and \(grouped(Double(exports))) RPUSHes "
                + "through the worker's RedisClient (pool of 4). Worker CPU per export: \(grouped(Double(comparison))) exports in a fresh worker "
                + "right after (\(export.check); \(export.cpu.perJob(comparison))). The export also takes the appointment lock and passes the "
                + "rate-limit script (2 Redis round trips the sum leaves out, about \(grouped(2 * redis.microseconds)) µs at the Redis floor).")
    }
}

/// Kernel CPU seconds (system time) a process used so far, from /proc/PID/stat; `nil` when it is gone.
func systemSeconds(pid: pid_t) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else {
        return nil
    }
    // stime is field 15 (the 13th after "(comm)").
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let system = Double(fields[12]) else { return nil }
    return system / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// This process's CPU (total and kernel, /proc/self/stat) and wall time from its creation.
struct FloorMeter {
    let cpu = cpuSeconds(pid: getpid()) ?? 0
    let system = systemSeconds(pid: getpid()) ?? 0
    let started = ContinuousClock.now

    /// What `count` units (of which `failed` failed) cost since the meter was made.
    func part(count: Int, failed: Int) -> BenchRig.FloorPart {
        BenchRig.FloorPart(
            count: count, seconds: secondsOf(ContinuousClock.now - started), cpu: (cpuSeconds(pid: getpid()) ?? 0) - cpu,
            system: (systemSeconds(pid: getpid()) ?? 0) - system, failed: failed)
    }
}

/// A SwiftNIO HTTP/1.1 server that answers every request at once with a fixed 200 JSON (an inserted event's
/// resource), so that a client's CPU per request can be measured without the sandbox's pace.
enum CannedHTTPServer {
    /// The start of the line that tells the port.
    static let portPrefix = "floor-server port="

    /// Serves on a free loopback port (printed) until the process is ended.
    static func serve() async throws {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(CannedAnswerHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        print("\(portPrefix)\(channel.localAddress?.port ?? 0)")
        // SIGTERM ends the process (its default action): nothing here needs a clean stop.
        try await channel.closeFuture.get()
    }
}

/// Answers each request, once its end is read, with the canned event resource.
final class CannedAnswerHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let body = #"{"kind":"calendar#event","etag":"\"3181161784712000\"","id":"floorfloorfloorfloor","status":"confirmed","#
        + #""htmlLink":"https://www.google.com/calendar/event?eid=floor","created":"2026-12-01T10:00:00.000Z","#
        + #""updated":"2026-12-01T10:00:00.000Z","summary":"Busy","description":"","location":"","#
        + #""creator":{"email":"m0001@bench.sandbox.test","self":true},"organizer":{"email":"m0001@bench.sandbox.test","self":true},"#
        + #""start":{"dateTime":"2026-12-02T07:00:00+01:00","timeZone":"Europe/Berlin"},"#
        + #""end":{"dateTime":"2026-12-02T07:30:00+01:00","timeZone":"Europe/Berlin"},"visibility":"private","#
        + #""transparency":"opaque","iCalUID":"floorfloorfloorfloor@google.com","sequence":0,"#
        + #""extendedProperties":{"private":{"calsyncExportKey":"floorfloorfloorfloor"}},"reminders":{"useDefault":true},"eventType":"default"}"#

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data) else { return }
        let body = ByteBuffer(string: Self.body)
        let head = HTTPResponseHead(
            version: .http1_1, status: .ok,
            headers: ["Content-Type": "application/json; charset=UTF-8", "Content-Length": "\(body.readableBytes)", "ETag": "\"3181161784712000\""])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
