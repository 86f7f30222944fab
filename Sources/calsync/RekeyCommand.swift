import ArgumentParser
import CalsyncApp

struct RekeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rekey",
        abstract: "Reseal stored credentials still under an old encryption key with the current key.",
        discussion: """
            Run it after adding a new current key and before removing an old one: \
            1. generate a key (calsync keygen); 2. set it as CALSYNC_ENCRYPTION_KEY and move the old one to \
            CALSYNC_PREVIOUS_ENCRYPTION_KEYS on every worker and restart them; 3. run calsync rekey; \
            4. when it reports 0 remaining under old keys, remove the old key.

            Works in batches; a row is rewritten only if it did not change meanwhile (a refresh or reconnect \
            wins, and a second run picks up what it left). Credentials that no configured key opens are counted \
            with their key id. Exits 1 while any remain under old keys. Needs CALSYNC_DATABASE_URL, \
            CALSYNC_ENCRYPTION_KEY and CALSYNC_PREVIOUS_ENCRYPTION_KEYS.

            Examples:
              calsync rekey --dry-run
              calsync rekey
            """
    )

    @Flag(name: .long, help: "Only count what would be resealed; write nothing.")
    var dryRun = false

    @Option(name: .long, help: "Rows read per batch.")
    var batchSize: Int = 500

    func validate() throws {
        guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be between 1 and 100000") }
    }

    func run() async throws {
        try await CommandSupport.run {
            let configuration = try await CommandSupport.configuration(requiring: [.database, .encryptionKey])
            let logger = CommandSupport.logger(configuration, label: "calsync.rekey")
            print(try await RekeyOperation.run(configuration: configuration, dryRun: dryRun, batchSize: batchSize, logger: logger))
        }
    }
}
