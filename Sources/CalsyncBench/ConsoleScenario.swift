import AsyncHTTPClient
import CalsyncConsole
import CalsyncQueue
import CalsyncRedis
import CalsyncTestSupport
import Foundation
import NIOCore
import NIOHTTP1

/// Scenario 7: `calsync console` over 100,000 dead records: the server time (its `Server-Timing` header) of the
/// dead-jobs page (first page, a deep page by cursor, a filtered page) and of the overview.
extension BenchRig {
    /// Server times in milliseconds, sorted, per page.
    struct ConsoleRun: Sendable {
        var deadFirst: [Double]
        var deadDeep: [Double]
        var deadFiltered: [Double]
        var overview: [Double]
    }

    func consoleScenario(records: Int, samples: Int) async throws -> ConsoleRun {
        let prefix = queue.configuration.prefix
        _ = try await redis.send(["DEL", "\(prefix):dead", "\(prefix):dead:index", "\(prefix):dead:types"])
        let base = Int64(Date().timeIntervalSince1970 * 1000) - Int64(records) * 10
        var batch: [[String]] = []
        for i in 0..<records {
            // One record in 100 is a refresh_token: the filtered page has to read past the others.
            let type = i % 100 == 0 ? "refresh_token" : "export_appointment"
            let id = "bench-dead-\(i)"
            let raw = #"{"id":"\#(id)","type":"\#(type)","payload":{"member_id":"m\#(i % 200)","appointment":{"id":"a\#(i)","revision":1}}}"#
            let record: [String: Any] = [
                "id": id, "type": type, "reason": "attempts_exhausted", "error": "Google answered 503 (backendError) on attempt 8",
                "http_status": 503, "attempts": 8, "first_failed_at": base + Int64(i) * 10 - 60_000, "last_failed_at": base + Int64(i) * 10,
                "raw": raw,
            ]
            let json = String(decoding: try JSONSerialization.data(withJSONObject: record), as: UTF8.self)
            batch.append(["HSET", "\(prefix):dead", id, json])
            batch.append(["ZADD", "\(prefix):dead:index", String(base + Int64(i) * 10), id])
            batch.append(["HINCRBY", "\(prefix):dead:types", type, "1"])
            if batch.count >= 6_000 {
                _ = try await redis.pipeline(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        if !batch.isEmpty { _ = try await redis.pipeline(batch) }

        let password = "bench console password"
        let port = try PrivateServers.freePort()
        let console = try BenchProcess(
            rig: self, arguments: ["console"],
            environment: environment([
                "CALSYNC_CONSOLE_PORT": String(port), "CALSYNC_CONSOLE_PASSWORD_HASH": Console.hashPassword(password),
                "CALSYNC_LOG_LEVEL": "warning",
            ]), name: "console")
        defer { console.child.signal(SIGKILL) }
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        do {
            let run = try await measureConsole(http: http, site: "http://127.0.0.1:\(port)", password: password, samples: samples, records: records)
            try await http.shutdown()
            await console.stop()
            return run
        } catch {
            try? await http.shutdown()
            throw BenchError("console scenario: \(error)\n\(console.log.suffix(2000))")
        }
    }

    private func measureConsole(http: HTTPClient, site: String, password: String, samples: Int, records: Int) async throws -> ConsoleRun {
        var cookies: [String: String] = [:]
        func send(_ path: String, form: String? = nil) async throws -> (status: UInt, body: String, serverMs: Double?) {
            var request = HTTPClientRequest(url: site + path)
            if !cookies.isEmpty { request.headers.add(name: "Cookie", value: cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")) }
            if let form {
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                request.body = .bytes(ByteBuffer(string: form))
            }
            let response = try await http.execute(request, timeout: .seconds(30))
            for header in response.headers["Set-Cookie"] {
                let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                if pair.count == 2 { cookies[String(pair[0])] = String(pair[1]) }
            }
            let body = String(buffer: try await response.body.collect(upTo: 16 << 20))
            let timing = response.headers["Server-Timing"].first.flatMap { $0.split(separator: "=").last.flatMap { Double($0) } }
            return (response.status.code, body, timing)
        }
        var login: (status: UInt, body: String, serverMs: Double?) = (0, "", nil)
        for _ in 0..<200 {
            if let page = try? await send("/login"), page.status == 200 {
                login = page
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        guard let range = login.body.range(of: "name=\"csrf\" value=\"") else { throw BenchError("the console served no login page") }
        let token = login.body[range.upperBound...].prefix { $0 != "\"" }
        let signedIn = try await send("/login", form: "csrf=\(token)&operator=bench&password=\(password.replacingOccurrences(of: " ", with: "+"))")
        guard signedIn.status == 303 else { throw BenchError("sign-in answered \(signedIn.status)") }

        // A cursor half-way down the index: the record at rank records/2.
        let middle = try await redis.send(["ZREVRANGE", "\(queue.configuration.prefix):dead:index", String(records / 2), String(records / 2), "WITHSCORES"])
        let score = middle.array?.last?.string ?? "0"
        func sample(_ path: String, expect: String) async throws -> [Double] {
            var times: [Double] = []
            for _ in 0..<samples {
                let page = try await send(path)
                guard page.status == 200, page.body.contains(expect) else { throw BenchError("\(path) answered \(page.status)") }
                times.append(page.serverMs ?? .nan)
            }
            return times.sorted()
        }
        return ConsoleRun(
            deadFirst: try await sample("/dead", expect: "bench-dead-\(records - 1)"),
            deadDeep: try await sample("/dead?after=\(score):1", expect: "dead-row"),
            deadFiltered: try await sample("/dead?type=refresh_token", expect: "dead-row"),
            overview: try await sample("/", expect: "id=\"queues\""))
    }
}
