import CalsyncJobs
import Foundation
import Testing

/// Log metadata keys are written once, in `LogKey`; an error is logged under `LogKey.error`, never inside the message.
@Suite("Log keys")
struct LogKeyTests {
    static func sources() throws -> [(name: String, text: String)] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let files = try #require(FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil))
        var result: [(String, String)] = []
        for case let file as URL in files where file.pathExtension == "swift" {
            // The sandbox emulates providers and the benchmark reports figures: neither logs calsync's events.
            if file.path.contains("/CalsyncSandbox/") || file.path.contains("/CalsyncBench/") { continue }
            result.append((file.lastPathComponent, try String(contentsOf: file, encoding: .utf8)))
        }
        return result
    }

    @Test func metadataKeysAreWrittenOnlyInLogKey() throws {
        let literalKey = try Regex(#"(metadataKey: |[\[,(]\s*)"calsync\.[a-z_.]+"\s*[:\]]"#)
        let offenders = try Self.sources().filter { $0.text.contains(literalKey) }.map(\.name)
        // CalsyncRedis sits below LogKey's target and writes `LogKey.errorCode`'s text itself.
        #expect(Set(offenders) == ["RedisClient.swift"])
        #expect(LogKey.error == "calsync.error" && LogKey.errorCode == "calsync.error.code")
    }

    @Test func errorsAreLoggedUnderTheErrorKeyNotInTheMessage() throws {
        let inMessage = try Regex(#"logger\.(trace|debug|info|notice|warning|error|critical)\("[^"]*\\\((error|error\.code)\)"#)
        #expect(try Self.sources().filter { $0.text.contains(inMessage) }.map(\.name) == [])
    }
}
