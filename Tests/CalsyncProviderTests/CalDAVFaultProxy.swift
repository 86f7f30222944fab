import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

/// A request as the fault proxy saw it.
struct ProxyRequest: Sendable {
    var method: String
    /// Path and query.
    var path: String
    var headers: [(String, String)]
    var body: String

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}

/// An answer the proxy gives (forwarded, rewritten or made up).
struct ProxyResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: String

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}

/// A small fault-injecting, rewriting HTTP proxy in front of a real CalDAV server, for what a server cannot do by
/// itself: choose its own object names, answer without an ETag, 429/503 with Retry-After, redirect across hosts,
/// check passwords (Xandikos has no authentication of its own), refuse sync-collection.
/// `handle` gets each request and a `forward` that sends it (or a changed copy) upstream.
struct CalDAVFaultProxy: Sendable {
    typealias Handler = @Sendable (ProxyRequest, _ forward: @Sendable (ProxyRequest) async throws -> ProxyResponse) async throws -> ProxyResponse

    /// Runs a proxy to `upstream` on an ephemeral loopback port for `body`, with its base URL.
    static func with<T: Sendable>(
        upstream: String, handle: @escaping Handler, _ body: (String) async throws -> T
    ) async throws -> T {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let upstreamBase = upstream.hasSuffix("/") ? String(upstream.dropLast()) : upstream
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            let bytes = try await request.body.collect(upTo: 64 << 20)
            let incoming = ProxyRequest(
                method: request.method.rawValue, path: request.uri.string,
                headers: request.headers.map { ($0.name.rawName, $0.value) } + [("Host", request.head.authority ?? "")],
                body: String(buffer: bytes))
            let answer = try await handle(incoming) { outgoing in try await forward(outgoing, to: upstreamBase) }
            var fields = HTTPFields()
            for (name, value) in answer.headers {
                guard let field = HTTPField.Name(name), !["content-length", "transfer-encoding", "connection"].contains(name.lowercased())
                else { continue }
                fields.append(HTTPField(name: field, value: value))
            }
            return Response(
                status: HTTPResponse.Status(code: answer.status), headers: fields,
                body: ResponseBody(byteBuffer: ByteBuffer(string: answer.body)))
        }
        var logger = Logger(label: "calsync.tests.caldav-proxy")
        logger.logLevel = .critical
        let app = Application(
            responder: responder, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: nil),
            onServerRunning: { channel in
                continuation.yield(channel.localAddress?.port ?? 0)
                continuation.finish()
            }, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw HarnessError("the CalDAV proxy did not start") }
            defer { group.cancelAll() }
            return try await body("http://127.0.0.1:\(port)")
        }
    }

    /// Sends a request to the real server.
    static func forward(_ request: ProxyRequest, to upstream: String) async throws -> ProxyResponse {
        var outgoing = HTTPClientRequest(url: upstream + request.path)
        outgoing.method = HTTPMethod(rawValue: request.method)
        for (name, value) in request.headers where !["host", "content-length", "connection", "transfer-encoding"].contains(name.lowercased()) {
            outgoing.headers.add(name: name, value: value)
        }
        if !request.body.isEmpty { outgoing.body = .bytes(ByteBuffer(string: request.body)) }
        let response = try await CalDAVTests.http.execute(outgoing, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 64 << 20)
        return ProxyResponse(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: String(buffer: bytes))
    }

    /// The Basic user of a request, and whether its password is `password`.
    static func basic(_ request: ProxyRequest) -> (user: String, password: String)? {
        guard let value = request.header("Authorization"), value.hasPrefix("Basic "),
            let data = Data(base64Encoded: String(value.dropFirst(6))), let text = String(data: data, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}

/// A thread-safe box for what a proxy handler remembers between requests.
final class ProxyState<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func with<R>(_ body: (inout Value) -> R) -> R {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
