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
        let ts = try #require(object["ts"] as? String)
        #expect(ts.count == 24 && ts.hasSuffix("Z"))
    }

    @Test("a text line carries level, label, message and sorted metadata")
    func textLine() {
        let line = CalsyncLogHandler.textLine(
            label: "calsync.migrate", level: .info, message: "applied", metadata: ["b": "2", "a": "1"])
        #expect(line.contains(" info calsync.migrate: applied a=1 b=2\n"))
    }

    @Test("keygen makes 32 random bytes in base64")
    func keygen() throws {
        let first = Keygen.makeKey()
        let bytes = try #require(Data(base64Encoded: first))
        #expect(bytes.count == 32)
        #expect(Keygen.makeKey() != first)
    }
}
