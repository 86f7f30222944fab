import Foundation
import HTTPTypes
import Hummingbird

/// Adds `Server-Timing: app;dur=<ms>` to every response: the time the console spent on the request, rendering
/// included (what `make bench` reports, and what a browser's developer tools show).
struct ServerTimingMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Times the rest of the chain and adds the header.
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let ms = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        response.headers[HTTPField.Name("Server-Timing")!] = String(format: "app;dur=%.2f", ms)
        return response
    }
}
