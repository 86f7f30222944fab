import ArgumentParser
import CalsyncApp
import CalsyncConsole
import Foundation

struct ConsoleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Serve the operators' web console (queues, workers, dead jobs, connections) until SIGTERM or SIGINT.",
        discussion: """
            Listens on CALSYNC_CONSOLE_HOST (default 127.0.0.1) and CALSYNC_CONSOLE_PORT (default 8082), behind a \
            login whose password is the bcrypt hash in CALSYNC_CONSOLE_PASSWORD_HASH (make one with \
            `calsync console hash-password`); it refuses to start without it. Needs CALSYNC_REDIS_URL and \
            CALSYNC_DATABASE_URL. Every action is recorded on <prefix>:events as ops.action with the operator's name.

            Examples:
              CALSYNC_CONSOLE_PASSWORD_HASH="$(calsync console hash-password)" calsync console
            """,
        subcommands: [Serve.self, HashPassword.self],
        defaultSubcommand: Serve.self
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "serve", abstract: "Serve the console (the default).")

        func run() async throws {
            try await CommandSupport.run {
                let configuration = try await CommandSupport.configuration(requiring: [.redis, .database])
                try await ConsoleAssembly.run(configuration: configuration)
            }
        }
    }

    struct HashPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hash-password",
            abstract: "Print a bcrypt hash for CALSYNC_CONSOLE_PASSWORD_HASH.",
            discussion: """
                Prompts for the password without echo on a terminal, else reads one line from standard input; \
                prints only the hash (bcrypt, cost 12). The password needs at least 8 characters.

                Examples:
                  calsync console hash-password
                  printf '%s\\n' "$PASSWORD" | calsync console hash-password
                """
        )

        func run() async throws {
            try await CommandSupport.run {
                let password: String
                if isatty(STDIN_FILENO) == 1 {
                    guard let typed = getpass("Password: ") else { throw CalsyncAppError.usage("no password given") }
                    password = String(cString: typed)
                } else {
                    password = readLine(strippingNewline: true) ?? ""
                }
                guard password.count >= 8 else {
                    throw CalsyncAppError.usage("the console password needs at least 8 characters")
                }
                print(Console.hashPassword(password))
            }
        }
    }
}
