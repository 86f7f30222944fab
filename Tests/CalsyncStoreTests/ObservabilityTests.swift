@testable import CalsyncApp
import Foundation
import Logging
import Testing

@Suite("Log lines")
struct ObservabilityTests {
    @Test("a JSON line is one object with ts, level, label, message, metadata")
    func jsonLine() throws {
        let line = CalsyncLogHandler.jsonLine(
            label: "calsync.worker", level: .warning, message: "quote \" and\nnewline",
            metadata: ["calsync.job.id": "j1", "nested": ["a": .array(["1", "2"])]])
        #expect(line.hasSuffix("\n"))
        #expect(line.dropLast().contains("\n") == false)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["level"] as? String == "warning")
        #expect(object["label"] as? String == "calsync.worker")
        #expect(object["message"] as? String == "quote \" and\nnewline")
        let metadata = try #require(object["metadata"] as? [String: Any])
        #expect(metadata["calsync.job.id"] as? String == "j1")
        #expect((metadata["nested"] as? [String: Any])?["a"] as? [String] == ["1", "2"])
        let ts = try #require(object["ts"] as? String)
        #expect(ts.count == 24 && ts.hasSuffix("Z"))
    }

    @Test("a text line carries level, label, message and sorted metadata")
    func textLine() {
        let line = CalsyncLogHandler.textLine(
            label: "calsync.migrate", level: .info, message: "applied", metadata: ["b": "2", "a": "1"])
        #expect(line.contains(" info calsync.migrate: applied a=1 b=2\n"))
    }

    @Test("a text line escapes control characters: a message or value cannot forge a line or drive the terminal")
    func textLineEscapesControlCharacters() {
        let line = CalsyncLogHandler.textLine(
            label: "calsync.worker", level: .warning, message: "sync failed\n2026-01-01T00:00:00Z info fake: forged",
            metadata: ["calsync.error": "Google said \u{1b}[2J\r"])
        #expect(line.filter { $0 == "\n" }.count == 1 && line.hasSuffix("\n"))
        #expect(!line.unicodeScalars.contains { $0 == "\u{1b}" || $0 == "\r" })
        #expect(line.contains(#"sync failed\n2026-01-01T00:00:00Z info fake: forged"#))
        #expect(line.contains(#"calsync.error=Google said \u{1b}[2J\r"#))
    }

    @Test("keygen makes 32 random bytes in base64")
    func keygen() throws {
        let first = Keygen.makeKey()
        let bytes = try #require(Data(base64Encoded: first))
        #expect(bytes.count == 32)
        #expect(Keygen.makeKey() != first)
    }
}
