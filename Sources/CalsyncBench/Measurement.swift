import CalsyncJobs
import CalsyncQueue
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One line of the results table: a figure beside its target.
struct Figure: Sendable {
    var scenario: String
    var measure: String
    var value: String
    var target: String
    /// nil when the figure has no target (context only).
    var met: Bool?

    init(_ scenario: String, _ measure: String, _ value: String, target: String = "", met: Bool? = nil) {
        self.scenario = scenario
        self.measure = measure
        self.value = value
        self.target = target
        self.met = met
    }
}

/// Seconds in a `Duration`.
func secondsOf(_ duration: Duration) -> Double {
    duration.timeInterval
}

/// The `q`-quantile (0…1) of sorted values, nearest rank.
func quantile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

/// `1,234` style integers and fixed-decimal numbers (`decimals` digits after the point).
func grouped(_ value: Double, decimals: Int = 0) -> String {
    guard value.isFinite else { return "n/a" }
    let text = String(format: "%.\(decimals)f", abs(value))
    let parts = text.split(separator: ".", maxSplits: 1)
    var integer = ""
    for (offset, digit) in parts[0].reversed().enumerated() {
        if offset > 0, offset % 3 == 0 { integer.append(",") }
        integer.append(digit)
    }
    let sign = value < 0 && text.contains(where: { $0 != "0" && $0 != "." }) ? "-" : ""
    return sign + String(integer.reversed()) + (parts.count > 1 ? "." + parts[1] : "")
}

/// CPU seconds (user + system) a process used so far, from /proc/PID/stat; `nil` when it is gone.
func cpuSeconds(pid: pid_t) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// CPU seconds this process (the driver and the sandbox it serves) used so far.
func ownCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

/// Where CPU went during a run: the worker, this run's Redis and PostgreSQL (its backends) and this process (sandbox + driver).
struct CPUSplit: Sendable {
    var worker = 0.0
    var redis = 0.0
    var postgres = 0.0
    var bench = 0.0

    /// Microseconds per job of each part, as a short text.
    func perJob(_ jobs: Int) -> String {
        func us(_ s: Double) -> String { grouped(s / Double(max(jobs, 1)) * 1e6) }
        return "worker \(us(worker)) µs, Redis \(us(redis)) µs, PostgreSQL \(us(postgres)) µs, sandbox+driver \(us(bench)) µs"
    }
}

/// This run's own Redis and PostgreSQL servers, told apart from any other on the machine by their ports.
struct BenchServers: Sendable {
    /// Redis's `host:port`, as on its command line.
    var redisAddress: String
    /// PostgreSQL's port (its postmaster runs with `-p PORT`).
    var postgresPort: String

    /// CPU seconds so far of this run's Redis, and of its postmaster and every backend it started.
    func cpuSeconds() -> (redis: Double, postgres: Double) {
        var redis = 0.0
        var postmaster: pid_t?
        var parents: [pid_t: pid_t] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = pid_t(entry), let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8) else { continue }
            let arguments = ((try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data())
                .split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if comm.hasPrefix("redis-server"), arguments.joined(separator: " ").split(separator: " ").contains(Substring(redisAddress)) {
                redis += cpuSecondsOrZero(pid)
            } else if comm.hasPrefix("postgres") {
                if let flag = arguments.firstIndex(of: "-p"), arguments.indices.contains(flag + 1), arguments[flag + 1] == postgresPort {
                    postmaster = pid
                }
                let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
                if let close = stat.lastIndex(of: ")") {
                    let fields = stat[stat.index(after: close)...].split(separator: " ")
                    if fields.count > 1, let parent = pid_t(fields[1]) { parents[pid] = parent }
                }
            }
        }
        var postgres = 0.0
        if let postmaster {
            for (pid, parent) in parents where pid == postmaster || parent == postmaster { postgres += cpuSecondsOrZero(pid) }
        }
        return (redis, postgres)
    }
}

/// `cpuSeconds(pid:)` for a process that may be gone (0).
private func cpuSecondsOrZero(_ pid: pid_t) -> Double { cpuSeconds(pid: pid) ?? 0 }

/// Samples CPU counters of the processes involved in a run: the workers, this run's own Redis and PostgreSQL
/// (other servers on the machine are left out), and this process.
struct CPUMeter {
    /// The worker processes measured (their CPU is summed).
    let workerPIDs: [pid_t]
    let servers: BenchServers
    private var start: CPUSplit

    init(workerPID: pid_t?, servers: BenchServers) {
        self.init(workerPIDs: workerPID.map { [$0] } ?? [], servers: servers)
    }

    init(workerPIDs: [pid_t], servers: BenchServers) {
        self.workerPIDs = workerPIDs
        self.servers = servers
        self.start = CPUMeter.sample(workerPIDs: workerPIDs, servers: servers)
    }

    /// CPU used since `init`.
    func elapsed() -> CPUSplit {
        let now = CPUMeter.sample(workerPIDs: workerPIDs, servers: servers)
        return CPUSplit(
            worker: now.worker - start.worker, redis: now.redis - start.redis, postgres: now.postgres - start.postgres,
            bench: now.bench - start.bench)
    }

    static func sample(workerPIDs: [pid_t], servers: BenchServers) -> CPUSplit {
        let (redis, postgres) = servers.cpuSeconds()
        return CPUSplit(
            worker: workerPIDs.compactMap { cpuSeconds(pid: $0) }.reduce(0, +), redis: redis, postgres: postgres,
            bench: ownCPUSeconds())
    }
}
