import Foundation
import Hummingbird

extension Parameters {
    /// A path parameter, percent-decoded ("" when absent).
    func decoded(_ name: String) -> String {
        guard let raw = get(name) else { return "" }
        return raw.contains("%") ? raw.removingPercentEncoding ?? raw : raw
    }
}

extension RouterMethods {
    /// The methods an emulated endpoint answers itself, to refuse a wrong one with its provider's error body.
    static var everyMethod: [HTTPRequest.Method] { [.get, .post, .put, .patch, .delete, .head, .options] }

    /// Adds `handler` for every method of `everyMethod`.
    @discardableResult
    func onEveryMethod(
        _ path: RouterPath, use handler: @escaping @Sendable (Request, Context) async throws -> some ResponseGenerator
    ) -> Self {
        for method in Self.everyMethod { on(path, method: method, use: handler) }
        return self
    }
}

extension Sandbox {
    /// The sandbox's router: the gate in front, then each provider's endpoints, the token endpoints and the
    /// control API.
    static func router(_ sandbox: Sandbox) -> Router<SandboxRequestContext> {
        let router = Router(context: SandboxRequestContext.self)
        router.add(middleware: SandboxGate(sandbox: sandbox))
        SandboxPushRoutes.addRoutes(to: router, sandbox: sandbox)
        GoogleAPI.addRoutes(to: router, sandbox: sandbox)
        GraphAPI.addRoutes(to: router, sandbox: sandbox)
        OAuthEndpoints.addRoutes(to: router, sandbox: sandbox)
        ControlAPI.addRoutes(to: router, sandbox: sandbox)
        return router
    }
}
