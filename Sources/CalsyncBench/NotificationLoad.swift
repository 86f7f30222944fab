import NIOCore
import NIOHTTP1
import NIOPosix

/// What one client connection of the push-intake load saw.
struct NotificationLoadResult: Sendable {
    /// Seconds from writing each answered request to reading the end of its 200 answer.
    var latencies: [Double] = []
    /// Answers with another status than 200 (not counted as accepted).
    var otherAnswers = 0
}

/// A cheap load generator for `calsync webhooks`: one persistent HTTP/1.1 connection per client on SwiftNIO
/// (NIOHTTP1's encoder and decoder), each request a distinct Google notification sent when the previous
/// answer has been read, its status checked and its latency taken; no task or future per request.
enum NotificationLoad {
    /// Runs `clients` connections against `host:port` until `end`; throws when a connection fails or an
    /// answer does not come within `answerTimeout`.
    static func run(
        host: String, port: Int, clients: Int, until end: NIODeadline, answerTimeout: TimeAmount = .seconds(5),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> [NotificationLoadResult] {
        var finished: [EventLoopFuture<NotificationLoadResult>] = []
        for client in 0..<clients {
            let loop = group.next()
            let promise = loop.makePromise(of: NotificationLoadResult.self)
            let channel = try await ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(
                            NotificationClientHandler(
                                client: client, host: "\(host):\(port)", end: end, answerTimeout: answerTimeout, done: promise))
                    }
                }
                .connect(host: host, port: port).get()
            channel.closeFuture.whenComplete { _ in promise.fail(BenchError("a load connection closed before its end")) }
            finished.append(promise.futureResult)
        }
        var results: [NotificationLoadResult] = []
        for future in finished { results.append(try await future.get()) }
        return results
    }
}

/// Sends one Google notification at a time on its connection and records each answer (see ``NotificationLoad``).
final class NotificationClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    let client: Int
    let end: NIODeadline
    let answerTimeout: TimeAmount
    let done: EventLoopPromise<NotificationLoadResult>
    var baseHeaders: HTTPHeaders
    var result = NotificationLoadResult()
    var index = 0
    var sent = NIODeadline.now()
    var status: HTTPResponseStatus?
    var watchdog: Scheduled<Void>?

    init(client: Int, host: String, end: NIODeadline, answerTimeout: TimeAmount, done: EventLoopPromise<NotificationLoadResult>) {
        self.client = client
        self.end = end
        self.answerTimeout = answerTimeout
        self.done = done
        self.baseHeaders = [
            "Host": host, "Content-Length": "0", "X-Goog-Channel-Token": "token", "X-Goog-Resource-ID": "resource",
            "X-Goog-Resource-State": "exists",
        ]
        result.latencies.reserveCapacity(1 << 16)
    }

    func channelActive(context: ChannelHandlerContext) {
        send(context: context)
        armWatchdog(loop: context.eventLoop)
    }

    /// One timer per connection (not per request) checks that no answer takes longer than the timeout.
    func armWatchdog(loop: any EventLoop) {
        watchdog = loop.assumeIsolated().scheduleTask(in: answerTimeout) {
            if NIODeadline.now() - self.sent > self.answerTimeout {
                self.done.fail(BenchError("a notification got no answer within \(self.answerTimeout.nanoseconds / 1_000_000) ms"))
            } else {
                self.armWatchdog(loop: loop)
            }
        }
    }

    /// Writes the next notification: a distinct channel id per request.
    func send(context: ChannelHandlerContext) {
        var headers = baseHeaders
        headers.add(name: "X-Goog-Channel-ID", value: "calsync-bench-\(client)-\(index)")
        index += 1
        sent = NIODeadline.now()
        context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: "/webhooks/google", headers: headers))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
        case .body:
            break
        case .end:
            let now = NIODeadline.now()
            if status == .ok {
                result.latencies.append(Double((now - sent).nanoseconds) / 1e9)
            } else {
                result.otherAnswers += 1
            }
            status = nil
            if now < end {
                send(context: context)
            } else {
                done.succeed(result)
                context.close(promise: nil)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        watchdog?.cancel()
        done.fail(BenchError("a load connection closed before its end"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        done.fail(error)
        context.close(promise: nil)
    }
}
