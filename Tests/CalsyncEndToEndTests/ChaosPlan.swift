import CalsyncJobs
import CalsyncQueue
import CalsyncSandbox
import CalsyncSync
import Foundation

/// Size, seed and pace of a chaos run, read from the environment (`make chaos` sets the full size).
struct ChaosSettings: Sendable, CustomStringConvertible {
    /// Jobs to enqueue (`CALSYNC_CHAOS_JOBS`, default 1,000).
    var jobs = 1000
    /// Members, half on Google and half on Microsoft (`CALSYNC_CHAOS_MEMBERS`, default 20).
    var members = 20
    /// Seed of the plan, the sandbox's faults and the driver (`CALSYNC_CHAOS_SEED`: a number, or `random`).
    var seed = Self.defaultSeed
    /// Jobs enqueued per second while the chaos runs (`CALSYNC_CHAOS_RATE`, default 40).
    var rate = 40.0
    /// Worker processes kept running (one more now and then, after a kill).
    var workers = 2...3
    /// The workers' lease; slow answers take longer than it and than the appointment lock (at least 5 s).
    var leaseSeconds = 2
    /// How long slow answers take before the sandbox processes the request, each an equal share of the 2 %
    /// (`CALSYNC_CHAOS_SLOW_SECONDS`, default `6,15`: past the 2 s lease, and past the 5 s appointment lock too).
    var slowAnswers: [Duration] = [.seconds(6), .seconds(15)]
    /// Seconds between two SIGKILLs of a worker (uniform in this range).
    var killEvery = 4.0...9.0
    /// Seconds between two graceful Redis restarts.
    var redisRestartEvery = 15.0...25.0
    /// Seconds between two PostgreSQL restarts (`pg_ctl restart -m fast`).
    var postgresRestartEvery = 15.0...25.0
    /// How long the queues may take to drain once the chaos has stopped.
    var drainTimeout = Duration.seconds(90)

    /// The seed used when `CALSYNC_CHAOS_SEED` is not set, so `make test` runs the same plan every time.
    static let defaultSeed: UInt64 = 20_261_201

    /// The settings from `CALSYNC_CHAOS_JOBS`, `CALSYNC_CHAOS_MEMBERS`, `CALSYNC_CHAOS_SEED`, `CALSYNC_CHAOS_RATE`,
    /// `CALSYNC_CHAOS_SLOW_SECONDS` (a comma-separated list).
    static func fromEnvironment() -> ChaosSettings {
        let env = ProcessInfo.processInfo.environment
        var settings = ChaosSettings()
        if let jobs = env["CALSYNC_CHAOS_JOBS"].flatMap(Int.init), jobs > 0 { settings.jobs = jobs }
        if let members = env["CALSYNC_CHAOS_MEMBERS"].flatMap(Int.init), members > 1 { settings.members = members }
        if let rate = env["CALSYNC_CHAOS_RATE"].flatMap(Double.init), rate > 0 { settings.rate = rate }
        if let slow = env["CALSYNC_CHAOS_SLOW_SECONDS"] {
            let values = slow.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }
            if !values.isEmpty { settings.slowAnswers = values.map { .seconds($0) } }
        }
        if let seed = env["CALSYNC_CHAOS_SEED"] {
            settings.seed = UInt64(seed) ?? UInt64.random(in: 1...999_999_999)
        }
        // A long run waits longer for the last retries.
        settings.drainTimeout = .seconds(max(90, settings.jobs / 50))
        return settings
    }

    var description: String {
        "\(jobs) jobs, \(members) members, seed \(seed) (CALSYNC_CHAOS_SEED=\(seed) repeats it), \(Int(rate)) jobs/s, "
            + "\(workers.lowerBound)–\(workers.upperBound) workers, lease \(leaseSeconds) s, slow answers "
            + slowAnswers.map { "\($0.components.seconds) s" }.joined(separator: " and ")
    }
}

/// One member of the run: a provider account with two busy events of its own.
struct ChaosMember: Sendable {
    let id: String
    let provider: SandboxProvider
    var email: String { "\(id)@\(provider.rawValue).chaos.test" }
    /// The member's own busy events (not made by calsync): what the busy blocks must show at the end.
    let ownEvents: [DateInterval]
}

/// What one revision of an appointment asks for.
enum ChaosChange: Sendable {
    /// `export_appointment` with these fields.
    case export(status: String, busy: Bool, interval: DateInterval)
    /// `delete_external_event`.
    case delete
}

/// One revision of an appointment and the ids of the jobs that carry it (one, or more when duplicated).
struct ChaosRevision: Sendable {
    let number: Int
    let change: ChaosChange
    var jobIDs: [String] = []

    /// The event this revision wants at the provider, nil for none (cancelled, not busy, or deleted).
    var wantedEvent: DateInterval? {
        guard case .export(let status, let busy, let interval) = change, status != "cancelled", busy else { return nil }
        return interval
    }

    /// A few words for reports: `r3 confirmed 2026-12-05 10:00–11:00`, `r4 delete`.
    var summary: String {
        switch change {
        case .delete: return "r\(number) delete_external_event"
        case .export(let status, let busy, let interval):
            return "r\(number) \(status)\(busy ? "" : " not-busy") \(ChaosPlan.describe(interval))"
        }
    }
}

/// One appointment of one member with its revisions.
struct ChaosAppointment: Sendable {
    let member: Int
    let id: String
    var revisions: [ChaosRevision]

    /// The revision with the highest number: what the provider must show at the end.
    var newest: ChaosRevision { revisions.max { $0.number < $1.number }! }
}

/// One job of the plan, in enqueue order.
struct ChaosJob: Sendable {
    let id: String
    let type: String
    let payload: String

    /// The JSON text a producer pushes at `time`.
    func text(at time: Date) -> String {
        #"{"id":"\#(id)","type":"\#(type)","enqueued_at":"\#(RFC3339.format(time))","payload":\#(payload)}"#
    }
}

/// A random but reproducible plan: members, appointments with revisions, and the jobs carrying them
/// (duplicated and shuffled, so older revisions arrive after newer ones), plus imports and refreshes.
struct ChaosPlan: Sendable {
    var members: [ChaosMember] = []
    var appointments: [ChaosAppointment] = []
    var jobs: [ChaosJob] = []

    /// Draws a plan of about `settings.jobs` jobs; appointments lie between 1 and 60 days after `origin`.
    /// Each appointment's jobs (all revisions and their copies) are shuffled into about 8 s of the run from
    /// a random moment on, so they race each other; imports and refreshes are spread over the whole run.
    static func make(_ settings: ChaosSettings, origin: Date) -> ChaosPlan {
        var random = SeededRandomNumberGenerator(seed: settings.seed)
        var plan = ChaosPlan()
        var keyed: [(key: Double, job: ChaosJob)] = []
        let spread = min(1.0, 8.0 * settings.rate / Double(max(1, settings.jobs)))
        let day = 86_400.0
        let midnight = (origin.timeIntervalSince1970 / day).rounded(.down) * day
        func slot(days: ClosedRange<Int>, minutes: [Double]) -> DateInterval {
            let start = midnight + Double(Int.random(in: days, using: &random)) * day
                + Double(Int.random(in: 16...34, using: &random)) * 1800
            return DateInterval(
                start: Date(timeIntervalSince1970: start), duration: minutes.randomElement(using: &random)! * 60)
        }
        for n in 0..<settings.members {
            plan.members.append(
                ChaosMember(
                    id: "m-\(n)", provider: n % 2 == 0 ? .google : .microsoft,
                    ownEvents: [slot(days: 2...10, minutes: [60]), slot(days: 20...40, minutes: [120])]))
        }
        var counter = 0
        func job(_ type: String, _ payload: String) -> ChaosJob {
            counter += 1
            return ChaosJob(id: "chaos-\(counter)", type: type, payload: payload)
        }
        while keyed.count < settings.jobs {
            let member = Int.random(in: 0..<settings.members, using: &random)
            let memberID = plan.members[member].id
            let roll = Double.random(in: 0..<1, using: &random)
            if roll < 0.8 {
                let id = "a-\(plan.appointments.count)"
                var appointment = ChaosAppointment(member: member, id: id, revisions: [])
                let birth = Double.random(in: 0..<1, using: &random)
                var interval = slot(days: 1...60, minutes: [30, 45, 60, 90])
                var number = 0
                for step in 0..<Int.random(in: 1...5, using: &random) {
                    number += Double.random(in: 0..<1, using: &random) < 0.2 ? Int.random(in: 2...4, using: &random) : 1
                    let change: ChaosChange
                    if step > 0, Double.random(in: 0..<1, using: &random) < 0.12 {
                        change = .delete
                    } else {
                        if step > 0, Double.random(in: 0..<1, using: &random) < 0.6 {
                            interval = slot(days: 1...60, minutes: [30, 45, 60, 90])
                        }
                        let draw = Double.random(in: 0..<1, using: &random)
                        let status = draw < 0.15 ? "cancelled" : draw < 0.3 ? "attended" : "confirmed"
                        change = .export(status: status, busy: Double.random(in: 0..<1, using: &random) >= 0.08, interval: interval)
                    }
                    var revision = ChaosRevision(number: number, change: change)
                    let copies = Double.random(in: 0..<1, using: &random)
                    for _ in 0..<(copies < 0.05 ? 3 : copies < 0.3 ? 2 : 1) {
                        let carrier: ChaosJob
                        switch change {
                        case .delete:
                            carrier = job(
                                "delete_external_event",
                                #"{"member_id":"\#(memberID)","appointment_id":"\#(id)","revision":\#(number)}"#)
                        case .export(let status, let busy, let interval):
                            carrier = job(
                                "export_appointment",
                                #"{"member_id":"\#(memberID)","appointment":{"id":"\#(id)","revision":\#(number),"status":"\#(status)","counts_as_busy":\#(busy),"starts_at":"\#(RFC3339.format(interval.start))","ends_at":"\#(RFC3339.format(interval.end))","service_name":"Consultation","customer_name":"Chaos Customer"}}"#
                            )
                        }
                        revision.jobIDs.append(carrier.id)
                        keyed.append((birth + Double.random(in: 0..<spread, using: &random), carrier))
                    }
                    appointment.revisions.append(revision)
                    if case .delete = change { break }
                }
                plan.appointments.append(appointment)
            } else if roll < 0.9 {
                let kind = Double.random(in: 0..<1, using: &random)
                let key = Double.random(in: 0..<1, using: &random)
                if kind < 0.4 {
                    keyed.append((key, job("import_window", #"{"member_id":"\#(memberID)"}"#)))
                } else if kind < 0.6 {
                    keyed.append((key, job("import_window", #"{"member_id":"\#(memberID)","full_resync":true}"#)))
                } else {
                    let window = slot(days: 1...50, minutes: [Double(Int.random(in: 3...15, using: &random)) * 1440])
                    keyed.append((key,
                        job(
                            "import_window",
                            #"{"member_id":"\#(memberID)","window_start":"\#(RFC3339.format(window.start))","window_end":"\#(RFC3339.format(window.end))","full_resync":false}"#
                        )))
                }
            } else {
                let force = Bool.random(using: &random)
                let key = Double.random(in: 0..<1, using: &random)
                keyed.append((key,
                    job(
                        "refresh_token",
                        #"{"member_id":"\#(memberID)","provider":"\#(plan.members[member].provider.rawValue)","force":\#(force)}"#)))
            }
        }
        plan.jobs = keyed.sorted { $0.key < $1.key }.map(\.job)
        return plan
    }

    /// `2026-12-05 10:00–11:00` (UTC).
    static func describe(_ interval: DateInterval) -> String {
        let start = RFC3339.format(interval.start)
        let end = RFC3339.format(interval.end)
        return "\(start.prefix(10)) \(start.dropFirst(11).prefix(5))–\(end.dropFirst(11).prefix(5))"
    }

    /// Jobs per type, for the report.
    var jobsByType: [String: Int] { jobs.reduce(into: [:]) { $0[$1.type, default: 0] += 1 } }
}
