import CalsyncTestSupport
import Foundation
import Testing

/// The README, `--help`, Package.swift, the docs and the set-up script claim only what works.
@Suite("docs and scripts say only what works")
struct RepositoryTruthTests {
    /// The repository's root folder (this file is `Tests/CalsyncEndToEndTests/…`).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func read(_ path: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test("the README and --help describe CalDAV as supported, and nothing says it is refused (issue 12)")
    func calDAVIsDescribed() async throws {
        let help = try await CLIProcess.run(["--help"], environment: [:])
        #expect(help.status == 0)
        let flatHelp = help.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(flatHelp.contains("Google, Microsoft and CalDAV"))
        let readme = try Self.read("README.md")
        #expect(readme.contains("### CalDAV (Apple iCloud, Fastmail, Nextcloud, any RFC 4791 server)"))
        for (name, text) in [("README.md", readme), ("jobs/README.md", try Self.read("jobs/README.md")), ("calsync --help", help.stdout)] {
            let flat = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            #expect(!flat.contains("CalDAV is not supported yet"), "\(name) still says CalDAV is refused")
            #expect(!flat.contains("unsupported_provider"), "\(name) still says CalDAV is refused")
        }
    }

    @Test("the docs name no path outside the repository")
    func noPathOutsideTheRepository() throws {
        // Hidden folders (.build, .git) are skipped, not walked.
        let walker = FileManager.default.enumerator(at: Self.root, includingPropertiesForKeys: nil, options: [.skipsHiddenFiles])
        let prefix = Self.root.standardizedFileURL.path + "/"
        let files = (walker?.allObjects as? [URL] ?? []).map { $0.standardizedFileURL.path }
            .filter { $0.hasSuffix(".md") || $0.hasSuffix(".example") }
            .map { String($0.dropFirst(prefix.count)) }
        #expect(files.contains("docs/sandbox.md"))
        for file in files {
            let text = try Self.read(file)
            for outside in ["/work/", "/home/", "/Users/", "/root/"] {
                #expect(!text.contains(outside), "\(file) names \(outside)…, outside the repository")
            }
        }
    }

    @Test("deps installs Debian's python3-jsonschema with apt, and curl and psql for make run")
    func depsAreDebianPackages() throws {
        // A PATH with only what the script itself needs: every checked command is then missing.
        let bin = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.uniqueName("deps-path"))
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: bin) }
        for tool in ["bash", "ls", "sort", "tail", "id", "cat"] {
            for dir in ["/usr/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(tool)") {
                try? FileManager.default.createSymbolicLink(
                    atPath: bin.appendingPathComponent(tool).path, withDestinationPath: "\(dir)/\(tool)")
            }
        }
        let process = Process()
        process.executableURL = bin.appendingPathComponent("bash")
        process.arguments = [Self.root.appendingPathComponent("scripts/services.sh").path, "missing-deps"]
        process.environment = ["PATH": bin.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let packages = Set(String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init))
        #expect(packages.isSuperset(of: ["python3-jsonschema", "curl", "postgresql-client", "redis-server", "pkg-config"]))
        #expect(!(try Self.read("scripts/services.sh")).contains("pip install"))
    }

    @Test("the README's map leads from each rule of the contract to a file that exists")
    func readmeMapLeadsToFiles() throws {
        let readme = try Self.read("README.md")
        let map = try #require(readme.components(separatedBy: "## Where each rule lives").dropFirst().first)
            .components(separatedBy: "\n## ").first ?? ""
        let rows = map.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| rule ") }
        #expect(rows.count >= 10)
        for row in rows {
            let links = row.components(separatedBy: "](").dropFirst().compactMap { $0.split(separator: ")").first }
            #expect(!links.isEmpty, "a rule without a file: \(row)")
            for link in links {
                #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(String(link)).path),
                        "the README's map points at \(link), which does not exist")
            }
        }
    }
}
