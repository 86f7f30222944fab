import CalsyncRedis
import CalsyncTestSupport
import Foundation
import Testing

@Suite("Redis URL parsing")
struct RedisURLTests {
    @Test func defaultsAndFullURL() throws {
        let bare = try RedisConfiguration(url: "redis://")
        #expect(bare.host == "127.0.0.1")
        #expect(bare.port == 6379)
        #expect(bare.database == 0)
        #expect(bare.password == nil)
        #expect(bare.connectTimeout == .seconds(2))
        #expect(bare.commandTimeout == .seconds(5))

        let full = try RedisConfiguration(url: "redis://:s3cr%40t@cache.internal:6380/3")
        #expect(full.host == "cache.internal")
        #expect(full.port == 6380)
        #expect(full.database == 3)
        #expect(full.password == "s3cr@t")

        let user = try RedisConfiguration(url: "redis://default:pw@10.0.0.1/2")
        #expect(user.username == "default")
        #expect(user.password == "pw")
        #expect(user.host == "10.0.0.1")
        #expect(user.port == 6379)
        #expect(user.database == 2)

        let acl = try RedisConfiguration(url: "redis://calsync%2Dworker:p%40ss:word@cache.internal:6380/1")
        #expect(acl.username == "calsync-worker")
        #expect(acl.password == "p@ss:word")
        #expect(acl.host == "cache.internal" && acl.port == 6380 && acl.database == 1)
        let passwordOnly = try RedisConfiguration(url: "redis://:pw@h")
        #expect(passwordOnly.username == nil && passwordOnly.password == "pw")

        let v6 = try RedisConfiguration(url: "redis://[::1]:7000")
        #expect(v6.host == "::1")
        #expect(v6.port == 7000)
    }

    @Test(arguments: ["http://localhost:6379", "redis://host:notaport/0", "redis://host:70000", "redis://host/x", "localhost"])
    func malformedURLsThrowInvalidURL(_ url: String) {
        do {
            _ = try RedisConfiguration(url: url)
            Issue.record("\(url) parsed")
        } catch let error as RedisError {
            #expect(error.code == .invalidUrl)
            #expect(error.message.contains("CALSYNC_REDIS_URL"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite("Redis client")
struct RedisClientTests {
    @Test func binarySafeValuesRoundTrip() async throws {
        let redis = try await makeRedis()
        defer { redis.close() }
        let key = TestEnvironment.uniqueName("calsync_test_bin")
        let value: [UInt8] = [0, 255, 13, 10, 36, 42, 0, 0x80, 0x7f]
        _ = try await redis.send(bytes: [Array("SET".utf8), Array(key.utf8), value, Array("PX".utf8), Array("10000".utf8)])
        let back = try await redis.send(["GET", key])
        #expect(back == .bulk(value))
        let empty = try await redis.send(bytes: [Array("SET".utf8), Array((key + "e").utf8), [], Array("PX".utf8), Array("10000".utf8)])
        #expect(empty == .status("OK"))
        #expect(try await redis.send(["GET", key + "e"]) == .bulk([]))
        #expect(try await redis.send(["GET", key + "missing"]) == .null)
        _ = try await redis.send(["DEL", key, key + "e"])
    }

    @Test func serverErrorsThrowExceptInPipelines() async throws {
        let redis = try await makeRedis()
        defer { redis.close() }
        do {
            _ = try await redis.send(["NOSUCHCOMMAND"])
            Issue.record("no error")
        } catch let error as RedisError {
            #expect(error.code == .serverError)
        }
        let key = TestEnvironment.uniqueName("calsync_test_pipe")
        let replies = try await redis.pipeline([["SET", key, "1", "PX", "10000"], ["NOSUCHCOMMAND"], ["INCR", key], ["DEL", key]])
        #expect(replies.count == 4)
        #expect(replies[0] == .status("OK"))
        if case .error = replies[1] {} else { Issue.record("expected .error, got \(replies[1])") }
        #expect(replies[2] == .integer(2))
        // The connection is still usable after a server error.
        #expect(try await redis.send(["PING"]) == .status("PONG"))
    }

    @Test func evalshaReloadsAfterScriptFlush() async throws {
        let redis = try await makeRedis()
        defer { redis.close() }
        let script = RedisScript("return {KEYS[1], ARGV[1], 7} -- \(TestEnvironment.uniqueName("s"))")
        let first = try await redis.evaluate(script, keys: ["k"], args: ["a"])
        #expect(first == .array([.bulk(Array("k".utf8)), .bulk(Array("a".utf8)), .integer(7)]))
        _ = try await redis.send(["SCRIPT", "FLUSH"])
        let again = try await redis.evaluate(script, keys: ["k2"], args: ["b"])
        #expect(again == .array([.bulk(Array("k2".utf8)), .bulk(Array("b".utf8)), .integer(7)]))
        // The SHA1 is the one Redis computes.
        let loaded = try await redis.send(["SCRIPT", "LOAD", script.source])
        #expect(loaded.string == script.sha1)
    }

    @Test func concurrentCallersShareOnePipelineAndEachGetsItsOwnReply() async throws {
        let redis = try await makeRedis(poolSize: 1)
        defer { redis.close() }
        let admin = try await makeRedis(poolSize: 1)
        defer { admin.close() }
        let prefix = TestEnvironment.uniqueName("calsync_test_auto")
        // The only drainer blocks in BLPOP (its pipeline sent, nothing queued) while 200 callers queue up behind it.
        let before = redis.pipelinesSent
        let blocked = Task { try await redis.send(["BLPOP", prefix + ":go", "4"]) }
        try await eventually("BLPOP did not take the drainer") { redis.pipelinesSent == before + 1 && redis.waitingCommands == 0 }
        try await Task.sleep(for: .milliseconds(50))
        // A script this server has never seen: its NOSCRIPT reply inside the batch loads it and runs it again.
        let script = RedisScript("return tonumber(ARGV[1]) * 2 -- \(prefix)")
        async let counters = withThrowingTaskGroup(of: (Int, Int).self) { group in
            for index in 0..<200 {
                group.addTask { (index, try await redis.send(["INCRBY", "\(prefix):\(index)", "\(index + 1)"]).int ?? -1) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        async let doubled = redis.evaluate(script, keys: [], args: ["21"])
        async let refused: RedisValue? = try? await redis.send(["NOSUCHCOMMAND"])
        async let contiguous = redis.pipeline([["MULTI"], ["INCR", prefix + ":tx"], ["INCR", prefix + ":tx"], ["EXEC"]])
        try await eventually("the callers did not queue") { redis.waitingCommands == 203 }
        _ = try await admin.send(["LPUSH", prefix + ":go", "1"])
        #expect(try await blocked.value == .array([.bulk(Array((prefix + ":go").utf8)), .bulk(Array("1".utf8))]))
        let replies = try await counters
        #expect(replies.count == 200)
        #expect(replies.allSatisfy { $0.value == $0.key + 1 })
        #expect(try await doubled == .integer(42))
        #expect(await refused == nil)
        #expect(try await contiguous.last == .array([.integer(1), .integer(2)]))
        // Everything queued went out in one pipeline after the BLPOP's own.
        #expect(redis.pipelinesSent - before == 2)
        _ = try await admin.send(["DEL", prefix + ":tx"] + (0..<200).map { "\(prefix):\($0)" })
    }

    @Test func aConnectionLostMidPipelineStillAnswersTheCallersWhoseRepliesArrived() async throws {
        let redis = try await makeRedis(poolSize: 1)
        defer { redis.close() }
        let admin = try await makeRedis(poolSize: 1)
        defer { admin.close() }
        let prefix = TestEnvironment.uniqueName("calsync_test_cut")
        // This client's only connection (other tests block in BLPOP on their own connections at the same time).
        let id = try #require(try await redis.send(["CLIENT", "ID"]).int)
        func blockedClient() async -> String? {
            let list = (try? await admin.send(["CLIENT", "LIST"]))?.string ?? ""
            return list.split(separator: "\n").first { $0.hasPrefix("id=\(id) ") && $0.contains("cmd=blpop") }.map { _ in "\(id)" }
        }
        // The drainer waits in a first BLPOP while three callers queue up behind it.
        let first = Task { try await redis.send(["BLPOP", prefix + ":go", "4"]) }
        try await eventually("the first BLPOP did not take the drainer") { await blockedClient() != nil }
        let answered = Task { try await redis.send(["INCR", prefix + ":n"]) }
        let cut = Task { try await redis.send(["BLPOP", prefix + ":never", "4"]) }
        let behind = Task { try await redis.send(["PING"]) }
        try await eventually("the callers did not queue") { redis.waitingCommands == 3 }
        _ = try await admin.send(["LPUSH", prefix + ":go", "1"])
        _ = try await first.value
        // The three went out in one pipeline: INCR answered, the second BLPOP blocks, the connection is killed.
        try await eventually("the second BLPOP did not block") { await blockedClient() != nil && redis.waitingCommands == 0 }
        _ = try await admin.send(["CLIENT", "KILL", "ID", "\(id)"])
        #expect(try await answered.value == .integer(1))
        await #expect(throws: RedisError.self) { try await cut.value }
        await #expect(throws: RedisError.self) { try await behind.value }
        // The client reconnects for the next command.
        #expect(try await redis.send(["INCR", prefix + ":n"]) == .integer(2))
        _ = try await admin.send(["DEL", prefix + ":n"])
    }

    @Test func unreachableServerThrowsConnectionFailed() async throws {
        var configuration = RedisConfiguration(host: "127.0.0.1", port: 1)
        configuration.connectTimeout = .milliseconds(200)
        let redis = RedisClient.running(configuration: configuration, logger: testLogger, poolSize: 1)
        defer { redis.close() }
        do {
            _ = try await redis.send(["PING"])
            Issue.record("no error")
        } catch let error as RedisError {
            #expect(error.code == .connectionFailed)
        }
    }

    @Test func anACLUserFromTheURLAuthenticatesAsThatUser() async throws {
        let admin = try await makeRedis(poolSize: 1)
        defer { admin.close() }
        let prefix = TestEnvironment.uniqueName("calsync_test_acl")
        let user = prefix + "_user"
        let password = "pw-\(UInt64.random(in: 0...UInt64.max))"
        _ = try await admin.send(["ACL", "SETUSER", user, "on", ">" + password, "~\(prefix):*", "+@all"])
        do {
            let base = try RedisConfiguration(url: TestEnvironment.redisURL)
            let url = "redis://\(user):\(password)@\(base.host):\(base.port)/\(base.database)"
            let client = RedisClient.running(configuration: try RedisConfiguration(url: url), logger: testLogger, poolSize: 1)
            defer { client.close() }
            #expect(try await client.send(["SET", "\(prefix):k", "v"]) == .status("OK"))
            #expect(try await client.send(["ACL", "WHOAMI"]).string == user)
            // Its key pattern holds: it is really that user, not the default one.
            await #expect(throws: RedisError.self) { try await client.send(["SET", "elsewhere_\(prefix)", "v"]) }

            var wrong = try RedisConfiguration(url: url)
            wrong.password = "not-the-password"
            let refused = RedisClient.running(configuration: wrong, logger: testLogger, poolSize: 1)
            defer { refused.close() }
            do {
                _ = try await refused.send(["PING"])
                Issue.record("a wrong password was accepted")
            } catch let error as RedisError {
                #expect(error.code == .connectionFailed)
                #expect(!error.message.contains("not-the-password"))
            }
            _ = try await admin.send(["DEL", "\(prefix):k"])
        } catch {
            _ = try? await admin.send(["ACL", "DELUSER", user])
            throw error
        }
        _ = try await admin.send(["ACL", "DELUSER", user])
    }

    @Test func aPooledConnectionThatRedisClosedIsReplacedForTheNextCommand() async throws {
        let admin = try await makeRedis(poolSize: 1)
        defer { admin.close() }
        let redis = try await makeRedis(poolSize: 1)
        defer { redis.close() }
        let id = try #require(try await redis.send(["CLIENT", "ID"]).int)
        // Redis drops the idle pooled connection, as on a restart.
        #expect(try await admin.send(["CLIENT", "KILL", "ID", String(id)]).int == 1)
        // The next command succeeds, on a fresh connection.
        #expect(try await redis.send(["PING"]) == .status("PONG"))
        let fresh = try #require(try await redis.send(["CLIENT", "ID"]).int)
        #expect(fresh != id)
        // Pipelines and scripts too, after another kill.
        #expect(try await admin.send(["CLIENT", "KILL", "ID", String(fresh)]).int == 1)
        #expect(try await redis.pipeline([["PING"], ["PING"]]) == [.status("PONG"), .status("PONG")])
    }

    @Test func concurrentCommandsShareThePool() async throws {
        let redis = try await makeRedis(poolSize: 3)
        defer { redis.close() }
        let key = TestEnvironment.uniqueName("calsync_test_pool")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<200 {
                group.addTask { _ = try await redis.send(["INCR", key]) }
            }
            try await group.waitForAll()
        }
        #expect(try await redis.send(["GET", key]).int == 200)
        _ = try await redis.send(["DEL", key])
    }
}
