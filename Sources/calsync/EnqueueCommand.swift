import ArgumentParser
import CalsyncApp

struct EnqueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enqueue",
        abstract: "Enqueue one job exactly as a producer would, and print its id.",
        discussion: """
            Builds {"id", "type", "enqueued_at", "payload"} and LPUSHes it to <prefix>:queue:<TYPE>. \
            The payload must be a JSON object. Needs CALSYNC_REDIS_URL and CALSYNC_REDIS_PREFIX only.

            Examples:
              calsync enqueue import_window --payload '{"member_id":"m_42","full_resync":true}'
              calsync enqueue refresh_token --payload '{"member_id":"m_42","provider":"google"}' --id job-refresh-1
            """
    )

    @Argument(help: "The job type, e.g. export_appointment.")
    var type: String

    @Option(name: .long, help: "The job's payload: a JSON object.")
    var payload: String

    @Option(name: .long, help: "The job id (1-128 characters); default a fresh job-<uuid>.")
    var id: String?

    func run() async throws {
        try await CommandSupport.run {
            let configuration = try await CommandSupport.configuration(requiring: .redis)
            let logger = CommandSupport.logger(configuration, label: "calsync.enqueue")
            print(try await QueueOperations.withConnection(configuration: configuration, logger: logger) { try await $0.enqueue(type: type, payload: payload, id: id) })
        }
    }
}
