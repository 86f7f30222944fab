// CalsyncHTTP owns the HTTP plumbing shared by the provider clients: one request with a timeout
// and a bounded body, form-encoded OAuth token requests, JSON decoding with classified errors,
// and `Retry-After`. It knows nothing of any particular provider and never logs a secret.
// It must not depend on Redis, PostgreSQL, the queue or the job engine (only CalsyncSync's types).
import AsyncHTTPClient
import CalsyncJobs
import CalsyncSync
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Sends one HTTP request on a shared `HTTPClient` (owned by the app) with a per-request timeout
/// and a bounded response body; transport failures come back as ``ProviderError``s.
package struct HTTPTransport: Sendable {
    /// Limits of every request.
    package struct Configuration: Sendable {
        /// The whole request, body included, must finish within this (default 30 s).
        package var requestTimeout: Duration
        /// Larger response bodies are refused, never buffered (default 8 MiB).
        package var maxResponseBytes: Int
        /// The `User-Agent` header (default `calsync/1`).
        package var userAgent: String

        /// Creates a configuration with the documented defaults.
        package init(requestTimeout: Duration = .seconds(30), maxResponseBytes: Int = 8 * 1024 * 1024, userAgent: String = "calsync/1") {
            self.requestTimeout = requestTimeout
            self.maxResponseBytes = maxResponseBytes
            self.userAgent = userAgent
        }
    }

    /// The shared client.
    package let client: HTTPClient
    /// The limits.
    package let configuration: Configuration
    /// The provider name used in messages (`Google`, `Microsoft`).
    package let serviceName: String
    let logger: Logger

    /// Creates a transport for one provider.
    package init(client: HTTPClient, configuration: Configuration = .init(), serviceName: String, logger: Logger) {
        self.client = client
        self.configuration = configuration
        self.serviceName = serviceName
        self.logger = logger
    }

    /// The HTTP methods the provider clients use.
    package enum Method: String, Sendable {
        /// GET
        case GET
        /// POST
        case POST
        /// PATCH
        case PATCH
        /// PUT
        case PUT
        /// DELETE
        case DELETE
        /// PROPFIND (WebDAV)
        case PROPFIND
        /// REPORT (WebDAV)
        case REPORT
    }

    /// Sends a request; any HTTP status is returned (classify it), transport failures throw ``ProviderError``.
    /// With `bodyHoldsCredentials` the body goes as a one-shot stream: AsyncHTTPClient never sends it again,
    /// so a redirect (307/308) cannot carry it to another address; the redirect comes back as the answer.
    package func send(
        _ method: Method,
        _ url: String,
        headers: [(String, String)] = [],
        body: [UInt8]? = nil,
        bodyHoldsCredentials: Bool = false
    ) async throws -> HTTPResult {
        var requestHeaders = HTTPHeaders()
        requestHeaders.reserveCapacity(2 + headers.count)
        requestHeaders.add(name: "User-Agent", value: configuration.userAgent)
        requestHeaders.add(name: "Accept", value: "application/json")
        for (name, value) in headers { requestHeaders.add(name: name, value: value) }
        let prepared = Prepared(method: method, url: url, headers: requestHeaders, body: body, bodyHoldsCredentials: bodyHoldsCredentials)
        // Provider rate limits (shared across worker processes) hold or defer the request before it is sent,
        // and its concurrency slot is given back once the answer (or the failure) is in.
        guard let gate = ProviderRequestGate.current else {
            try ProviderRequestGate.checkJobHeld()
            let result = try await execute(prepared)
            ProviderRequestGate.noteAnswered(status: result.status)
            return result
        }
        let permit = try await gate.beforeRequest()
        do {
            try ProviderRequestGate.checkJobHeld()
            let result = try await execute(prepared)
            ProviderRequestGate.noteAnswered(status: result.status)
            // "Wait at least that long", for every worker's requests to this connection, from this moment on:
            // the next request of this very job too.
            if result.status == 429 || result.status >= 500, let wait = result.retryAfter(), wait > .zero {
                await gate.penalize(for: wait)
            }
            await gate.afterRequest(permit: permit)
            return result
        } catch {
            await gate.afterRequest(permit: permit)
            throw error
        }
    }

    /// Sleeps on an event loop timer that a cancellation removes at once. (`Task.sleep` cancelled early
    /// keeps its timer, and the sleeping task's memory, until the deadline: with a 30 s timeout per
    /// request the worker held about 1.5 KB per job of the last 30 s; `make bench` showed it.)
    static func sleep(for duration: Duration, on loop: any EventLoop) async throws {
        let promise = loop.makePromise(of: Void.self)
        let timer = loop.scheduleTask(in: .nanoseconds(duration.nanoseconds)) { promise.succeed(()) }
        try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            timer.cancel()
            // Completing twice is harmless: the first completion wins, on the loop.
            loop.execute { promise.fail(CancellationError()) }
        }
    }

    /// A request as `send` built it, before it is handed to AsyncHTTPClient.
    struct Prepared: Sendable {
        let method: Method
        let url: String
        let headers: HTTPHeaders
        let body: [UInt8]?
        let bodyHoldsCredentials: Bool
    }

    /// Sends a prepared request within the timeout and reads its bounded body.
    private func execute(_ prepared: Prepared) async throws -> HTTPResult {
        let started = ContinuousClock.now
        // Never past the job's deadline: a request must not outlive the job that sent it.
        let requestTimeout = ProviderRequestGate.requestTimeout(configuration.requestTimeout)
        let result: HTTPResult
        do {
            result = try await prepared.bodyHoldsCredentials
                ? executeOneShot(prepared, requestTimeout: requestTimeout)
                : executeBuffered(prepared, requestTimeout: requestTimeout)
        } catch let error as ProviderError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // A request cut short because the task was cancelled (shutdown) is a cancellation, not a provider failure.
            if Task.isCancelled { throw CancellationError() }
            throw classifyTransportError(error, method: prepared.method)
        }
        logger.debug(
            "provider request",
            metadata: [
                LogKey.httpMethod: "\(prepared.method.rawValue)", LogKey.httpPath: "\(Self.pathOnly(prepared.url))",
                LogKey.httpStatus: "\(result.status)",
                LogKey.httpMilliseconds: "\((ContinuousClock.now - started).nanoseconds / 1_000_000)",
            ])
        return result
    }

    /// The common path: one AsyncHTTPClient task whose deadline covers the whole request, redirects and body
    /// included, and whose accumulator refuses a body over the limit (by its `Content-Length`, or as it grows).
    /// One continuation, no child tasks and no timer of ours: cancelling the Swift task cancels the request.
    private func executeBuffered(_ prepared: Prepared, requestTimeout: Duration) async throws -> HTTPResult {
        let request = try HTTPClient.Request(
            url: prepared.url, method: HTTPMethod(rawValue: prepared.method.rawValue), headers: prepared.headers,
            body: prepared.body.map { .bytes($0) })
        let accumulator = ResponseAccumulator(
            request: request, maxBodySize: min(max(configuration.maxResponseBytes, 0), Int(UInt32.max)))
        let deadline = NIODeadline.now() + TimeAmount.nanoseconds(requestTimeout.nanoseconds)
        let task = client.execute(request: request, delegate: accumulator, deadline: deadline, logger: logger)
        let response = try await withTaskCancellationHandler {
            try await task.futureResult.get()
        } onCancel: {
            task.cancel()
        }
        return HTTPResult(
            status: Int(response.status.code), headers: response.headers, body: response.body ?? ByteBuffer(),
            serviceName: serviceName, followedRedirect: response.history.count > 1)
    }

    /// A body holding credentials goes as a one-shot stream on the async API, so that a redirect cannot
    /// carry it elsewhere (the redirect comes back as the answer). AsyncHTTPClient's deadline there ends at
    /// the response head, so a race with a timer bounds the body too. Only token requests take this path.
    private func executeOneShot(_ prepared: Prepared, requestTimeout: Duration) async throws -> HTTPResult {
        var request = HTTPClientRequest(url: prepared.url)
        request.method = HTTPMethod(rawValue: prepared.method.rawValue)
        request.headers = prepared.headers
        if let body = prepared.body {
            let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
            continuation.yield(ByteBuffer(bytes: body))
            continuation.finish()
            request.body = .stream(stream, length: .known(Int64(body.count)))
        }
        let deadline = NIODeadline.now() + TimeAmount.nanoseconds(requestTimeout.nanoseconds)
        let (client, logger, maxBytes, serviceName) = (self.client, self.logger, configuration.maxResponseBytes, self.serviceName)
        let sendable = request
        let outcome = try await withThrowingTaskGroup(of: HTTPResult?.self) { group in
            group.addTask {
                let response = try await client.execute(sendable, deadline: deadline, logger: logger)
                let buffer = try await response.body.collect(upTo: maxBytes)
                return HTTPResult(
                    status: Int(response.status.code), headers: response.headers, body: buffer, serviceName: serviceName,
                    followedRedirect: response.history.count > 1)
            }
            group.addTask {
                try await Self.sleep(for: requestTimeout, on: client.eventLoopGroup.next())
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        guard let outcome else { throw HTTPClientError.deadlineExceeded }
        return outcome
    }

    /// Maps a transport failure to a classified error (no response was read).
    func classifyTransportError(_ error: any Error, method: Method) -> ProviderError {
        if error is NIOTooManyBytesError || error is ResponseAccumulator.ResponseTooBigError {
            return .retryable(
                .responseTooLarge,
                "\(serviceName) sent an answer larger than \(configuration.maxResponseBytes) bytes; it was refused unread. Retry later.")
        }
        if let http = error as? HTTPClientError {
            switch http {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout, .getConnectionFromPoolTimeout,
                .tlsHandshakeTimeout:
                return .retryable(
                    .timeout,
                    "\(serviceName) did not answer within \(configuration.requestTimeout); the request will be retried.")
            case .cancelled:
                return .retryable(.cancelled, "The request to \(serviceName) was cancelled; it will be retried.")
            default:
                break
            }
        }
        return .retryable(.networkError, "Could not reach \(serviceName) (\(Self.errorName(error))); the request will be retried.")
    }

    static func errorName(_ error: any Error) -> String {
        if let http = error as? HTTPClientError { return http.description.prefix(80).description }
        return String(describing: type(of: error))
    }

    static func pathOnly(_ url: String) -> Substring {
        url.split(separator: "?", maxSplits: 1).first ?? ""
    }
}

/// A received response: status, headers and the (bounded) body.
package struct HTTPResult: Sendable {
    /// The HTTP status code.
    package let status: Int
    let headers: HTTPHeaders
    let body: ByteBuffer
    /// The provider name used in messages.
    package let serviceName: String
    /// Whether the HTTP client followed a redirect to get this answer (it came from another URL).
    package let followedRedirect: Bool

    init(status: Int, headers: HTTPHeaders, body: ByteBuffer, serviceName: String, followedRedirect: Bool = false) {
        self.status = status
        self.headers = headers
        self.body = body
        self.serviceName = serviceName
        self.followedRedirect = followedRedirect
    }

    /// Whether the answer is a redirect (3xx).
    package var isRedirect: Bool { (300..<400).contains(status) }

    /// Creates a result by hand (for tests of classification).
    package init(status: Int, headers: [(String, String)] = [], body: String = "", serviceName: String) {
        self.init(status: status, headers: HTTPHeaders(headers), body: ByteBuffer(string: body), serviceName: serviceName)
    }

    /// The first value of a response header.
    package func header(_ name: String) -> String? { headers.first(name: name) }

    /// Whether the status is 2xx.
    package var isSuccess: Bool { (200..<300).contains(status) }

    /// The body as `Data`.
    package var data: Data { Data(body.readableBytesView) }

    /// The `Retry-After` header as a duration, when present and valid.
    package func retryAfter(now: Date = Date()) -> Duration? {
        headers.first(name: "Retry-After").flatMap { RetryAfter.parse($0, now: now) }
    }

    /// Decodes the body as JSON; a malformed body or a missing field is a classified error.
    package func decode<T: Decodable>(_ type: T.Type, what: String = "answer") throws -> T {
        try JSONBody.decode(type, from: data, serviceName: serviceName, what: what, status: status)
    }
}

/// JSON decoding that turns every failure into a classified ``ProviderError``.
package enum JSONBody {
    /// Decodes `data` as `T`; malformed JSON or a missing/mistyped field becomes `malformed_response`.
    package static func decode<T: Decodable>(_ type: T.Type, from data: Data, serviceName: String, what: String, status: Int?) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            let detail: String
            switch error {
            case .keyNotFound(let key, let context):
                detail = "field `\(path(context.codingPath + [key]))` is missing"
            case .typeMismatch(_, let context), .valueNotFound(_, let context):
                detail = "field `\(path(context.codingPath))` has the wrong type"
            case .dataCorrupted(let context):
                detail = context.codingPath.isEmpty ? "the body is not valid JSON" : "field `\(path(context.codingPath))` is invalid"
            @unknown default:
                detail = "the body could not be read"
            }
            throw ProviderError.retryable(
                .malformedResponse, status: status,
                "\(serviceName) sent a malformed \(what): \(detail). It will be retried; if it persists, the provider's API may have changed.")
        } catch {
            throw ProviderError.retryable(
                .malformedResponse, status: status, "\(serviceName) sent a malformed \(what). It will be retried.")
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }

    /// Encodes a value as JSON bytes.
    package static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(value))
        } catch {
            throw ProviderError.permanent(.encodingFailed, "An event could not be encoded as JSON; this is a calsync bug.")
        }
    }
}
