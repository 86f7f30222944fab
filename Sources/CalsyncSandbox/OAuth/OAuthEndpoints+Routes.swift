import Synchronization
import Hummingbird

extension OAuthEndpoints {
    /// Adds both token endpoints (Microsoft's under `/microsoft/oauth2/…` and `/microsoft/common/oauth2/…`);
    /// they answer a method other than POST with their provider's error themselves.
    static func addRoutes(to router: Router<SandboxRequestContext>, sandbox: Sandbox) {
        router.onEveryMethod(RouterPath(SandboxService.Mount.googleToken)) { _, context in
            sandbox.state.withLock { s in google(&s, context.api) }
        }
        for path in SandboxService.Mount.microsoftTokens {
            router.onEveryMethod(RouterPath(path)) { _, context in
                sandbox.state.withLock { s in microsoft(&s, context.api) }
            }
        }
    }
}
