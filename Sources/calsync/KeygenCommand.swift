import ArgumentParser
import CalsyncApp

struct KeygenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Print a new CALSYNC_ENCRYPTION_KEY: base64 of 32 random bytes.",
        discussion: """
            The key seals provider credentials (AES-GCM). Keep it secret and keep it: credentials sealed \
            with a lost key cannot be read, and every member would have to reconnect.

            Examples:
              calsync keygen
              echo "CALSYNC_ENCRYPTION_KEY=$(calsync keygen)" >> config/calsync.env
            """
    )

    func run() async throws {
        print(Keygen.makeKey())
    }
}
