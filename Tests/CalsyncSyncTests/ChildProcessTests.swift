import CalsyncTestSupport
import Foundation
import Testing

/// The process helper every spawning test uses: exits are seen, descriptors do not leak.
@Suite("Child processes of tests")
struct ChildProcessTests {
    @Test("a child inherits stdin, stdout and stderr only, and its exit status is seen at once")
    func noInheritedDescriptors() async throws {
        // An open descriptor in the test process that must not reach the child.
        let held = try (0..<4).map { _ in try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/null")) }
        defer { for handle in held { try? handle.close() } }
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("calsync-fds-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: output) }
        let child = try ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "ls /proc/$$/fd; exit 7"], environment: [:],
            stdoutPath: output.path, stderrPath: "/dev/null")
        #expect(await child.wait(timeout: .seconds(10)) == 7)
        let descriptors = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").compactMap { Int($0) }
        #expect(Set(descriptors) == [0, 1, 2], "the child holds \(descriptors)")
    }
}
