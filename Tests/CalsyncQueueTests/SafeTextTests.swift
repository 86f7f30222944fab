import CalsyncJobs
import CalsyncRedis
import Foundation
import Testing

@testable import CalsyncQueue

/// Text from outside (providers, drivers) becomes one short, safe line.
@Suite("Safe one-line text")
struct SafeTextTests {
    @Test func controlCharactersAreEscapedAndLongTextIsCut() {
        let hostile = "bad\u{1b}[31m red\r\nforged line\u{07}\u{202E}" + String(repeating: "x", count: 10 * 1024 * 1024)
        let clock = ContinuousClock()
        let started = clock.now
        let line = SafeText.line(hostile)
        #expect(clock.now - started < .milliseconds(100), "reads no further than the limit")
        #expect(line.unicodeScalars.count <= SafeText.messageLimit + 1)
        #expect(line.hasPrefix(#"bad\u{1b}[31m red\r\nforged line\u{7}\u{202e}"#))
        #expect(line.hasSuffix("…"))
        #expect(!line.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        #expect(SafeText.line("short and fine") == "short and fine")
        #expect(SafeText.escaped("a\tb") == #"a\tb"#)
    }

    struct DumpError: Error, CustomStringConvertible {
        var description: String { "DumpError(\n  query: SELECT secret FROM t WHERE token = $1,\n  binds: [tok-123]\n)" }
    }

    struct SafeError: OneLineDescribable {
        var oneLineDescription: String { "store failed SQLSTATE 42P01" }
    }

    @Test func anUnexpectedErrorIsRecordedAsOneSafeLine() async throws {
        try await withQueue("safe-text", configure: { $0.retry = .exponentialJitter(base: .milliseconds(1), cap: .milliseconds(5), maxAttempts: 1) }) { queue, redis in
            let dump = try await queue.enqueue(type: "diag_throw", payload: #"{"kind":"dump"}"#)
            let safe = try await queue.enqueue(type: "diag_throw", payload: #"{"kind":"safe"}"#)
            let handler = ClosureHandler(jobType: "diag_throw") { job, _ in
                if String(decoding: job.payload, as: UTF8.self).contains("dump") { throw DumpError() }
                throw SafeError()
            }
            let worker = JobWorker(queue: queue, handlers: [handler], knownTypes: [], configuration: testWorkerConfiguration(), logger: testLogger)
            try await withWorker(worker) {
                try await waitUntil("both dead") { try await queue.stats(knownTypes: []).dead == 2 }
            }
            let dumped = try #require(try await queue.deadShow(id: dump)?.error)
            #expect(!dumped.contains("\n"), "one line: \(dumped)")
            #expect(dumped.hasPrefix(#"DumpError(\n  query"#))
            let described = try #require(try await queue.deadShow(id: safe)?.error)
            #expect(described == "store failed SQLSTATE 42P01")
        }
    }
}
