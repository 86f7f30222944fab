import CalsyncSync
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The endpoints of `calsync webhooks`: `POST /webhooks/google`, `POST /webhooks/microsoft` and
/// `POST /webhooks/microsoft/lifecycle` (each also answering Graph's validation handshake), and
/// `GET /webhooks/health`. Any other path is 404; a body over the limit is 413.
package enum WebhookRoutes {
    /// The router over a receiver.
    package static func router(receiver: WebhookReceiver, maxBodyBytes: Int) -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/webhooks/health") { _, _ in "ok" }
        router.post("/webhooks/google") { request, _ in
            _ = try await request.body.collect(upTo: maxBodyBytes)
            return google(request, receiver: receiver)
        }
        router.post("/webhooks/microsoft") { request, _ in
            try await graph(request, receiver: receiver, lifecycle: false, maxBodyBytes: maxBodyBytes)
        }
        router.post("/webhooks/microsoft/lifecycle") { request, _ in
            try await graph(request, receiver: receiver, lifecycle: true, maxBodyBytes: maxBodyBytes)
        }
        return router
    }

    /// A Google message: headers only. Acknowledged at once whatever it is (Google wants a 2xx); the check
    /// happens behind the answer.
    static func google(_ request: Request, receiver: WebhookReceiver) -> Response {
        guard let channelID = request.headers[GoogleHeader.channelID], !channelID.isEmpty, channelID.utf8.count <= 256,
            let state = request.headers[GoogleHeader.resourceState]
        else {
            return Response(status: .badRequest)
        }
        receiver.submit(
            .google(
                channelID: channelID, token: request.headers[GoogleHeader.channelToken],
                resourceID: request.headers[GoogleHeader.resourceID], state: state))
        return Response(status: .ok)
    }

    /// A Graph POST: the validation handshake (`?validationToken=` → 200 text/plain, the token decoded), or
    /// notifications, each item checked on its own behind a 202.
    static func graph(_ request: Request, receiver: WebhookReceiver, lifecycle: Bool, maxBodyBytes: Int) async throws -> Response {
        if let token = validationToken(request) {
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; charset=utf-8"
            headers[.xContentTypeOptions] = "nosniff"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: token)))
        }
        let buffer = try await request.body.collect(upTo: maxBodyBytes)
        guard let body = try? JSONDecoder().decode(GraphNotificationBody.self, from: Data(Array(buffer: buffer))) else {
            return Response(status: .badRequest)
        }
        for item in body.value.prefix(1000) {
            guard let subscriptionID = item.subscriptionId, !subscriptionID.isEmpty, subscriptionID.utf8.count <= 256 else { continue }
            receiver.submit(
                .graph(
                    subscriptionID: subscriptionID, clientState: item.clientState,
                    lifecycleEvent: lifecycle ? (item.lifecycleEvent ?? "unknown") : nil))
        }
        return Response(status: .accepted)
    }

    /// The percent-decoded `validationToken` query parameter, when present (at most 4 KiB).
    static func validationToken(_ request: Request) -> String? {
        guard let query = request.uri.query else { return nil }
        for part in query.split(separator: "&") {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pieces.count == 2, pieces[0] == "validationToken", pieces[1].utf8.count <= 4096 else { continue }
            let raw = pieces[1].replacingOccurrences(of: "+", with: " ")
            return raw.removingPercentEncoding ?? raw
        }
        return nil
    }

    /// The headers of a Google watch-channel message, parsed once.
    enum GoogleHeader {
        static let channelID = HTTPField.Name("X-Goog-Channel-ID")!
        static let channelToken = HTTPField.Name("X-Goog-Channel-Token")!
        static let resourceID = HTTPField.Name("X-Goog-Resource-ID")!
        static let resourceState = HTTPField.Name("X-Goog-Resource-State")!
    }
}
