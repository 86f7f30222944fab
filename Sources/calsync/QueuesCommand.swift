import ArgumentParser
import CalsyncApp

struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues",
        abstract: "Show queue depths: ready per type, scheduled, in flight, dead, oldest job age.",
        discussion: """
            Needs CALSYNC_REDIS_URL and CALSYNC_REDIS_PREFIX only.

            Examples:
              calsync queues
              calsync queues --json | jq '.ready.export_appointment'
            """
    )

    @Flag(name: .long, help: "Print one JSON object instead of a table.")
    var json = false

    func run() async throws {
        try await CommandSupport.run {
            let configuration = try await CommandSupport.configuration(requiring: .redis)
            let logger = CommandSupport.logger(configuration, label: "calsync.queues")
            print(try await QueueOperations.withConnection(configuration: configuration, logger: logger) { try await $0.queues(json: json) })
        }
    }
}
