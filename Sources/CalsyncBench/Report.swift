import CalsyncJobs
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The results table, printed and written as Markdown with the machine it ran on.
struct Report {
    var figures: [Figure] = []
    var details: [String] = []
    var machine: [(String, String)] = []

    mutating func add(_ figure: Figure) {
        figures.append(figure)
        let mark = figure.met.map { $0 ? "met" : "MISSED" } ?? ""
        print("  \(figure.measure): \(figure.value)\(figure.target.isEmpty ? "" : " (target \(figure.target)) \(mark)")")
    }

    /// The table as aligned text for the terminal.
    var text: String {
        let rows = [["scenario", "figure", "value", "target", "met"]]
            + figures.map { [$0.scenario, $0.measure, $0.value, $0.target, $0.met.map { $0 ? "yes" : "NO" } ?? ""] }
        let widths = (0..<5).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n")
    }

    /// The whole report in Markdown.
    var markdown: String {
        var out = "# calsync benchmark results\n\n"
        out += "Written by `make bench` (`scripts/bench.sh`); each run replaces this file. How the scenarios are built "
        out += "and what each figure means: [README.md](README.md).\n\n"
        out += "## Machine\n\n| | |\n|---|---|\n"
        for (name, value) in machine { out += "| \(name) | \(value) |\n" }
        out += "\n## Figures\n\n| scenario | figure | value | target | met |\n|---|---|---|---|---|\n"
        for figure in figures {
            let met = figure.met.map { $0 ? "yes" : "**no**" } ?? ""
            out += "| \(figure.scenario) | \(figure.measure) | \(figure.value) | \(figure.target) | \(met) |\n"
        }
        if !details.isEmpty {
            out += "\n## Details\n\n"
            for line in details { out += "- \(line)\n" }
        }
        return out
    }

    /// What this machine is: CPU, cores, memory, kernel, OS, and the versions of the parts measured.
    static func describeMachine(redisVersion: String, postgresVersion: String) -> [(String, String)] {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
        let osRelease = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        let os = osRelease.split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }?
            .dropFirst("PRETTY_NAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) ?? "unknown"
        var name = utsname()
        uname(&name)
        let kernel = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let environment = ProcessInfo.processInfo.environment
        let date = RFC3339.formatSeconds(Date())
        return [
            ("date", date),
            ("CPU", model),
            ("cores available", "\(ProcessInfo.processInfo.activeProcessorCount)"),
            ("memory", "\(ProcessInfo.processInfo.physicalMemory / (1 << 20)) MB"),
            ("OS", "\(os), Linux \(kernel)"),
            ("Swift", environment["CALSYNC_BENCH_SWIFT_VERSION"] ?? "unknown"),
            ("build", "release (`swift build -c release`)"),
            ("Redis", redisVersion),
            ("PostgreSQL", "\(postgresVersion) (as `make test` runs it: fsync off, synchronous_commit off)"),
        ]
    }
}
