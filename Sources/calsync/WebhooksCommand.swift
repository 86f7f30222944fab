import ArgumentParser
import CalsyncApp

struct WebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "Serve the providers' push notifications (the Procfile's `web`).",
        discussion: """
            A long-running HTTP process on CALSYNC_WEBHOOK_PORT (8081) behind CALSYNC_PUBLIC_URL, the https \
            base the providers call: POST /webhooks/google, /webhooks/microsoft and \
            /webhooks/microsoft/lifecycle. It holds no provider credential: it checks each notification \
            against the channels in PostgreSQL (channel or subscription known, secret and resource matching) \
            and turns trusted ones into coalesced incremental imports in Redis (CALSYNC_PUSH_DEBOUNCE_MS, \
            1000). Every notification is answered at once; the checks run behind the answer. Needs \
            CALSYNC_REDIS_URL and CALSYNC_DATABASE_URL.

            Examples:
              CALSYNC_PUBLIC_URL=https://calsync.example.com calsync webhooks
            """
    )

    func run() async throws {
        try await CommandSupport.run {
            let configuration = try await CommandSupport.configuration(requiring: [.redis, .database])
            try await PushAssembly.runWebhooks(configuration: configuration)
        }
    }
}
