import CalsyncRedis
import CalsyncTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import PostgresNIO
import Testing

@Suite("calsync CLI (the real binary)")
struct CLITests {
    static let key = Data(repeating: 9, count: 32).base64EncodedString()

    static func redisEnvironment(prefix: String) -> [String: String] {
        ["CALSYNC_REDIS_URL": TestEnvironment.redisURL, "CALSYNC_REDIS_PREFIX": prefix, "CALSYNC_LOG_LEVEL": "warning"]
    }

    static func workerEnvironment(prefix: String) -> [String: String] {
        var env = redisEnvironment(prefix: prefix)
        env["CALSYNC_DATABASE_URL"] = TestEnvironment.databaseURL
        env["CALSYNC_ENCRYPTION_KEY"] = key
        env["CALSYNC_METRICS_PORT"] = "0"
        env["CALSYNC_SHUTDOWN_GRACE_SECONDS"] = "2"
        env["CALSYNC_JOB_LEASE_SECONDS"] = "5"
        env["CALSYNC_LOG_LEVEL"] = "info"
        return env
    }

    static func json(_ text: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(text.utf8))
    }

    @Test("keygen prints base64 of 32 bytes")
    func keygen() async throws {
        let result = try await CLIProcess.run(["keygen"], environment: [:])
        #expect(result.status == 0)
        let decoded = try #require(Data(base64Encoded: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(decoded.count == 32)
    }

    @Test("worker without a usable encryption key exits 78 with one line naming calsync keygen")
    func missingKey() async throws {
        var env = Self.workerEnvironment(prefix: TestEnvironment.uniqueName("cli"))
        for value in [nil, "c2hvcnQ="] {
            env["CALSYNC_ENCRYPTION_KEY"] = value
            let result = try await CLIProcess.run(["worker", "--diagnostic-jobs"], environment: env)
            #expect(result.status == 78)
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "stderr: \(result.stderr)")
            #expect(lines.first?.hasPrefix("calsync: CALSYNC_ENCRYPTION_KEY") == true)
            #expect(result.stderr.contains("calsync keygen"))
        }
    }

    @Test("a non-number exits 78 naming the variable")
    func malformedNumber() async throws {
        var env = Self.workerEnvironment(prefix: TestEnvironment.uniqueName("cli"))
        env["CALSYNC_WORKER_CONCURRENCY"] = "many"
        let result = try await CLIProcess.run(["worker"], environment: env)
        #expect(result.status == 78)
        #expect(result.stderr.contains("CALSYNC_WORKER_CONCURRENCY"))
    }

    @Test("unreachable Redis or PostgreSQL exits 69 naming the URL without the password")
    func unreachable() async throws {
        let redis = try await CLIProcess.run(
            ["queues"], environment: ["CALSYNC_REDIS_URL": "redis://:topsecret@127.0.0.1:1/0"])
        #expect(redis.status == 69)
        #expect(redis.stderr.contains("127.0.0.1:1"))
        #expect(!redis.stderr.contains("topsecret"))
        let postgres = try await CLIProcess.run(
            ["migrate"], environment: ["CALSYNC_DATABASE_URL": "postgres://calsync:topsecret@127.0.0.1:1/calsync"])
        #expect(postgres.status == 69)
        #expect(postgres.stderr.contains("127.0.0.1:1"))
        #expect(!postgres.stderr.contains("topsecret"))
        // A login the server refuses fails at once (the pool alone would retry it forever).
        var refused = try #require(URLComponents(string: TestEnvironment.databaseURL))
        refused.user = "no_such_role"
        refused.password = "topsecret"
        let login = try await CLIProcess.run(
            ["migrate"], environment: ["CALSYNC_DATABASE_URL": try #require(refused.string)], timeout: .seconds(10))
        #expect(login.status == 69)
        #expect(login.stderr.contains("no_such_role"))
        #expect(!login.stderr.contains("topsecret"))
    }

    @Test("usage errors exit 64; --help explains with examples")
    func usage() async throws {
        let env = Self.redisEnvironment(prefix: TestEnvironment.uniqueName("cli"))
        #expect(try await CLIProcess.run(["dead", "retry"], environment: env).status == 64)
        #expect(try await CLIProcess.run(["dead", "purge", "--all", "--older-than", "soon"], environment: env).status == 64)
        let help = try await CLIProcess.run(["dead", "--help"], environment: env)
        #expect(help.status == 0)
        #expect(help.stdout.contains("Examples"))
    }

    @Test("enqueue then queues --json shows the depth; a payload that is not an object is refused")
    func enqueueAndQueues() async throws {
        let env = Self.redisEnvironment(prefix: TestEnvironment.uniqueName("cli"))
        let first = try await CLIProcess.run(
            ["enqueue", "import_window", "--payload", #"{"member_id":"m1","full_resync":true}"#, "--id", "job-cli-1"],
            environment: env)
        #expect(first.status == 0, "stderr: \(first.stderr)")
        #expect(first.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "job-cli-1")
        let second = try await CLIProcess.run(
            ["enqueue", "import_window", "--payload", #"{"member_id":"m2"}"#], environment: env)
        #expect(second.status == 0)
        #expect(second.stdout.hasPrefix("job-"))

        let refused = try await CLIProcess.run(["enqueue", "import_window", "--payload", "[1,2]"], environment: env)
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("JSON object"))

        let queues = try await CLIProcess.run(["queues", "--json"], environment: env)
        #expect(queues.status == 0, "stderr: \(queues.stderr)")
        let stats = try #require(try Self.json(queues.stdout) as? [String: Any])
        let ready = try #require(stats["ready"] as? [String: Any])
        #expect(ready["import_window"] as? Int == 2)
        #expect(ready["export_appointment"] as? Int == 0)

        let table = try await CLIProcess.run(["queues"], environment: env)
        #expect(table.status == 0)
        #expect(table.stdout.contains("import_window"))
    }

    @Test("a worker dead-letters invalid jobs; dead list/show/retry/purge work", .timeLimit(.minutes(1)))
    func deadLetters() async throws {
        let prefix = TestEnvironment.uniqueName("cli")
        let env = Self.workerEnvironment(prefix: prefix)
        let redis = RedisClient.running(
            configuration: try RedisConfiguration(url: TestEnvironment.redisURL), logger: Logger(label: "test"), poolSize: 1)
        defer { redis.close() }
        let garbage = "this is {not json \u{00e9} \u{1b}[2J\u{1b}]0;owned\u{07}\r\n"
        do {
            _ = try await redis.send(["LPUSH", "\(prefix):queue:diag_echo", garbage])
        } catch {
            Issue.record(Comment(rawValue: TestEnvironment.missingServer("Redis", url: TestEnvironment.redisURL, underlying: error)))
            throw error
        }
        let enqueued = try await CLIProcess.run(
            ["enqueue", "diag_echo", "--payload", #"{"fail_times":99,"fail_kind":"permanent"}"#, "--id", "diag-perm-1"],
            environment: env)
        #expect(enqueued.status == 0)

        let worker = try CLIProcess(["worker", "--diagnostic-jobs"], environment: env)
        var records: [[String: Any]] = []
        let deadArrived = try await cliEventually {
            let list = try await CLIProcess.run(["dead", "list", "--json"], environment: env)
            records = (try? Self.json(list.stdout) as? [[String: Any]]) ?? []
            return records.count == 2 || !worker.isRunning
        }
        #expect(deadArrived && records.count == 2, "dead records: \(records); worker stderr: \(worker.stderrSoFar)")
        #expect(worker.isRunning, "the worker exited: \(worker.stderrSoFar)")
        worker.terminate()
        let exit = try await worker.wait()
        #expect(exit.status == 0, "worker stderr: \(exit.stderr)")

        let invalid = try #require(records.first { $0["reason"] as? String == "invalid_job" })
        #expect(invalid["raw"] as? String == garbage)
        for key in ["id", "type", "reason", "error", "http_status", "attempts", "first_failed_at", "last_failed_at", "raw"] {
            #expect(invalid.keys.contains(key), "missing \(key) in \(invalid)")
        }
        let permanent = try #require(records.first { $0["id"] as? String == "diag-perm-1" })
        #expect(permanent["type"] as? String == "diag_echo")
        #expect(permanent["http_status"] as? Int == 400)

        let show = try await CLIProcess.run(["dead", "show", "diag-perm-1", "--json"], environment: env)
        #expect(show.status == 0)
        // The readable form escapes control characters: a job's bytes cannot clear or retitle the terminal.
        let invalidID = try #require(invalid["id"] as? String)
        let readable = try await CLIProcess.run(["dead", "show", invalidID], environment: env)
        #expect(readable.status == 0)
        #expect(!readable.stdout.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\u{07}" || $0 == "\r" })
        #expect(readable.stdout.contains(#"raw:             this is {not json \#u{00e9} \u{1b}[2J\u{1b}]0;owned\u{7}\r\n"#))
        #expect((try Self.json(show.stdout) as? [String: Any])?["id"] as? String == "diag-perm-1")

        let filtered = try await CLIProcess.run(["dead", "list", "--type", "diag_echo", "--json"], environment: env)
        let ofType = try #require(try Self.json(filtered.stdout) as? [[String: Any]])
        #expect(ofType.contains { $0["id"] as? String == "diag-perm-1" })
        #expect(ofType.allSatisfy { $0["type"] as? String == "diag_echo" })
        let none = try await CLIProcess.run(["dead", "list", "--type", "import_window", "--json"], environment: env)
        #expect((try Self.json(none.stdout) as? [Any])?.count == 0)

        let retry = try await CLIProcess.run(["dead", "retry", "diag-perm-1"], environment: env)
        #expect(retry.status == 0, "stderr: \(retry.stderr)")
        let queues = try await CLIProcess.run(["queues", "--json"], environment: env)
        let ready = (try Self.json(queues.stdout) as? [String: Any])?["ready"] as? [String: Any]
        #expect(ready?["diag_echo"] as? Int == 1)
        #expect(try await CLIProcess.run(["dead", "show", "diag-perm-1"], environment: env).status == 1)

        #expect(try await CLIProcess.run(["dead", "purge", "no-such-id"], environment: env).status == 1)
        let purge = try await CLIProcess.run(["dead", "purge", "--all"], environment: env)
        #expect(purge.status == 0)
        #expect(purge.stdout.contains("purged 1 dead job"))
        let empty = try await CLIProcess.run(["dead", "list", "--json"], environment: env)
        #expect((try Self.json(empty.stdout) as? [Any])?.count == 0)
    }

    @Test("the worker serves Prometheus metrics on CALSYNC_METRICS_PORT and logs JSON lines", .timeLimit(.minutes(1)))
    func metricsAndJSONLogs() async throws {
        var env = Self.workerEnvironment(prefix: TestEnvironment.uniqueName("cli"))
        let port = try PrivateServers.freePort()
        env["CALSYNC_METRICS_PORT"] = String(port)
        env["CALSYNC_METRICS_HOST"] = "127.0.0.1"
        env["CALSYNC_LOG_FORMAT"] = "json"
        let worker = try CLIProcess(["worker", "--diagnostic-jobs"], environment: env)
        let url = try #require(URL(string: "http://127.0.0.1:\(port)/metrics"))
        var body = ""
        let served = await cliEventually {
            guard worker.isRunning, let (data, response) = try? await URLSession.shared.data(from: url),
                (response as? HTTPURLResponse)?.statusCode == 200
            else { return !worker.isRunning }
            body = String(decoding: data, as: UTF8.self)
            return true
        }
        #expect(served && body.contains("# TYPE"), "metrics: \(body.prefix(200)); stderr: \(worker.stderrSoFar)")
        worker.terminate()
        let exit = try await worker.wait()
        #expect(exit.status == 0)
        let lines = exit.stderr.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["level"] != nil && object?["label"] != nil && object?["message"] != nil, "not a JSON log line: \(line)")
        }
    }

    @Test("rekey: --help says when to run it; on a migrated database with nothing under old keys it reports 0 remaining")
    func rekey() async throws {
        let help = try await CLIProcess.run(["rekey", "--help"], environment: [:])
        #expect(help.status == 0)
        #expect(help.stdout.contains("after adding a new current key and before removing an old one"))
        #expect(help.stdout.contains("--dry-run"))
        let schema = TestEnvironment.uniqueName("cli")
        var env = [
            "CALSYNC_DATABASE_URL": TestEnvironment.databaseURL, "CALSYNC_DATABASE_SCHEMA": schema,
            "CALSYNC_LOG_LEVEL": "warning",
        ]
        #expect(try await CLIProcess.run(["rekey"], environment: env).status == 78, "no key: configuration missing")
        #expect(try await CLIProcess.run(["migrate"], environment: env).status == 0)
        env["CALSYNC_ENCRYPTION_KEY"] = Self.key
        env["CALSYNC_PREVIOUS_ENCRYPTION_KEYS"] = Data(repeating: 8, count: 32).base64EncodedString()
        let dry = try await CLIProcess.run(["rekey", "--dry-run"], environment: env)
        #expect(dry.status == 0, "stderr: \(dry.stderr)")
        #expect(dry.stdout.contains("dry run: 0 credential(s) under old keys would be resealed"))
        let run = try await CLIProcess.run(["rekey"], environment: env)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stdout.contains("resealed 0 credential(s)"))
        #expect(run.stdout.contains("0 remain under old keys"))
        try await CLIPostgres.dropSchema(schema)
    }

    @Test("migrate twice via the binary: applies, then says up to date")
    func migrateTwice() async throws {
        let schema = TestEnvironment.uniqueName("cli")
        let env = [
            "CALSYNC_DATABASE_URL": TestEnvironment.databaseURL, "CALSYNC_DATABASE_SCHEMA": schema,
            "CALSYNC_LOG_LEVEL": "warning",
        ]
        let first = try await CLIProcess.run(["migrate"], environment: env)
        #expect(first.status == 0, "stderr: \(first.stderr)")
        #expect(first.stdout.contains("applied 1 initial"))
        let second = try await CLIProcess.run(["migrate"], environment: env)
        #expect(second.status == 0)
        #expect(second.stdout.contains("up to date"))
        #expect(!second.stdout.contains("applied"))
        try await CLIPostgres.dropSchema(schema)
    }
}

/// Direct PostgreSQL access for cleanup.
enum CLIPostgres {
    static func dropSchema(_ schema: String) async throws {
        guard let url = URLComponents(string: TestEnvironment.databaseURL), let host = url.host else { return }
        let config = PostgresConnection.Configuration(
            host: host, port: url.port ?? 5432, username: url.user ?? "calsync", password: url.password,
            database: String(url.path.dropFirst()), tls: .disable)
        let connection = try await PostgresConnection.connect(configuration: config, id: 1, logger: Logger(label: "test"))
        try await connection.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE"), logger: Logger(label: "test"))
        try await connection.close()
    }
}
