import CalsyncSandbox
import CalsyncSync
import Foundation
import Testing

/// The chaos test's judgement on its own, in process: a run that ended right passes, and each kind of
/// failure (wrong times, a missing event, two events, an event of no appointment, a lost job, lost
/// busy time, an inactive connection) is found and named.
@Suite("Chaos test's judgement")
struct ChaosJudgeTests {
    static let base = Date(timeIntervalSince1970: 1_796_000_000)

    static func hour(_ n: Double) -> DateInterval { DateInterval(start: base.addingTimeInterval(n * 3600), duration: 3600) }

    /// Two members (Google, Microsoft), five appointments, one import job.
    static var plan: ChaosPlan {
        var plan = ChaosPlan()
        plan.members = [
            ChaosMember(id: "m-0", provider: .google, ownEvents: [hour(100)]),
            ChaosMember(id: "m-1", provider: .microsoft, ownEvents: [hour(101)]),
        ]
        func export(_ n: Int, _ interval: DateInterval, status: String = "confirmed", job: String) -> ChaosRevision {
            ChaosRevision(number: n, change: .export(status: status, busy: true, interval: interval), jobIDs: [job])
        }
        plan.appointments = [
            ChaosAppointment(member: 0, id: "a-0", revisions: [export(1, hour(1), job: "j1"), export(2, hour(2), job: "j2")]),
            ChaosAppointment(
                member: 0, id: "a-1", revisions: [export(1, hour(3), job: "j3"), ChaosRevision(number: 2, change: .delete, jobIDs: ["j4"])]),
            ChaosAppointment(member: 1, id: "a-2", revisions: [export(1, hour(4), job: "j5")]),
            ChaosAppointment(member: 1, id: "a-3", revisions: [export(1, hour(5), status: "cancelled", job: "j6")]),
            ChaosAppointment(member: 0, id: "a-4", revisions: [export(3, hour(6), job: "j7")]),
        ]
        plan.jobs = (1...8).map { ChaosJob(id: "j\($0)", type: $0 == 8 ? "import_window" : "export_appointment", payload: "{}") }
        return plan
    }

    /// What a run left: right when `sabotaged` is false, else one failure of each kind.
    static func observations(sabotaged: Bool) -> ChaosObservations {
        let sandbox = Sandbox()
        let google = sandbox.createAccount(.google, email: "m-0@google.chaos.test")
        let microsoft = sandbox.createAccount(.microsoft, email: "m-1@microsoft.chaos.test")
        func add(_ member: String, _ appointment: String, _ interval: DateInterval, on account: SandboxAccount) {
            let digest = ExportKey(memberID: member, appointmentID: appointment).digest
            var event = SandboxEvent(summary: "Consultation", start: interval.start, end: interval.end)
            if account.provider == .google {
                event.id = digest
            } else {
                event.privateProperties = [ExportMarker.graphPropertyID: digest]
            }
            sandbox.insertEvent(account.provider, email: account.email, calendarID: account.primaryCalendarID, event)
        }
        add("m-0", "a-0", sabotaged ? hour(1) : hour(2), on: google)  // sabotaged: still revision 1
        add("m-1", "a-2", hour(4), on: microsoft)
        if sabotaged {
            add("m-1", "a-2", hour(4), on: microsoft)  // a second event for one appointment
            sandbox.insertEvent(
                .microsoft, email: microsoft.email, calendarID: microsoft.primaryCalendarID,
                SandboxEvent(summary: "Stray", start: hour(9).start, end: hour(9).end))
        } else {
            add("m-0", "a-4", hour(6), on: google)  // sabotaged: missing
        }
        var seen = ChaosObservations()
        seen.events[0] = sandbox.events(.google, email: google.email, calendarID: google.primaryCalendarID)
        seen.events[1] = sandbox.events(.microsoft, email: microsoft.email, calendarID: microsoft.primaryCalendarID)
        let done = ChaosRun.JobStep(time: base, worker: "worker-a", message: "job completed")
        for id in ["j1", "j2", "j3", "j4", "j5", "j6", "j7"] { seen.trace[id] = [done] }
        if sabotaged {
            seen.trace["j7"] = [ChaosRun.JobStep(time: base, worker: "worker-a", message: "job started")]
            seen.deadReasons["j7"] = "attempts_exhausted"
            seen.busy = ["m-0": [hour(100)], "m-1": []]
            seen.inactiveConnections = ["m-1's microsoft connection is reconnect_required: …"]
        } else {
            seen.trace["j8"] = [done]
            seen.busy = ["m-0": [hour(100)], "m-1": [hour(101)]]
        }
        return seen
    }

    @Test("a run that ended right has no failure")
    func rightRun() {
        var report = ChaosReport(settings: ChaosSettings(), plan: Self.plan)
        report.judge(Self.observations(sabotaged: false))
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.appointmentsChecked == 5)
        #expect(report.wantingEvent == 3)
        #expect(report.jobsByOutcome == ["completed": 8])
    }

    @Test("wrong times, a missing event, two events, a stray event, a lost job, lost busy time and a dead connection are all found")
    func everyKindOfFailure() {
        var report = ChaosReport(settings: ChaosSettings(), plan: Self.plan)
        report.judge(Self.observations(sabotaged: true))
        #expect(report.wrong.count == 3, "\(report.wrong)")
        #expect(report.wrong.contains { $0.hasPrefix("m-0 (google) a-0: newest r2") && $0.contains("(as r1)") })
        #expect(report.wrong.contains { $0.hasPrefix("m-0 (google) a-4") && $0.contains("no event") && $0.contains("j7 dead (attempts_exhausted)") })
        #expect(report.wrong.contains { $0.hasPrefix("m-1 (microsoft) a-2") })
        #expect(report.duplicates == 1)
        #expect(report.unknownEvents.count == 1)
        #expect(report.lost.count == 1 && report.lost.first?.hasPrefix("j8 ") == true)
        #expect(report.deadByReason == ["attempts_exhausted": 1])
        #expect(report.wrongBusy.count == 1 && report.wrongBusy.first?.hasPrefix("m-1") == true)
        #expect(report.failures.count == 6, "\(report.failures)")
    }
}
