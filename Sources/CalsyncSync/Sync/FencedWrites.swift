import CalsyncJobs
import Foundation
import Synchronization

// The newest revision wins at the provider, not only in PostgreSQL (contract §4).
//
// Every provider write of an appointment is recorded before it goes out (a write intent, with the moment
// it settles: the end of its window plus the settle margin) and settled when its job records the result.
// A write whose answer never came (a timeout, a cancellation, a lost answer, a crash) stays unsettled: it
// may still land until it settles. A newer revision that finds such an older write always writes (even
// when its content looks unchanged) and, when the older write could land after its own, stores
// `verify_after` and comes back then (a deferral, no attempt burnt) to write its revision once more. The
// provider's idempotent ids make that second write land on the same event; a delete looks the event up
// by its marker, so a create that landed late is found too.

/// The window of one fenced provider write, visible to the HTTP layer through `ProviderRequestGate`.
final class FencedWriteWindow: Sendable {
    /// Requests of the write must end by then (their timeouts are shortened).
    let deadline: ContinuousClock.Instant
    private let sent = Atomic<Int>(0)
    private let answered = Atomic<Int>(0)

    init(deadline: ContinuousClock.Instant) { self.deadline = deadline }

    /// A request of the write is going out.
    func noteSent() { sent.add(1, ordering: .relaxed) }

    /// A request of the write was answered with `status`: below 500 it cannot land later. A 5xx answer
    /// ("may or may not have been applied") stays unknown.
    func noteAnswered(status: Int) {
        if status < 500 { answered.add(1, ordering: .relaxed) }
    }

    /// Whether some request of the write went out and may still land (no answer, or a 5xx).
    var outcomeUnknown: Bool { sent.load(ordering: .relaxed) > answered.load(ordering: .relaxed) }
}

/// A provider write that went through: its token (settled by the record) and when it started.
struct FencedWrite<T: Sendable>: Sendable {
    var value: T
    var token: String
    var startedAt: Date
}

extension SyncEnvironment {
    /// Runs one provider write of `revision` of an appointment, fenced: its intent is recorded first, its
    /// requests end within the write window, and a write that failed before any request went out is
    /// settled at once, as is one whose every request was answered (below 500). A request that got no answer,
    /// or a 5xx, leaves the write unsettled: it may still land.
    func fencedWrite<T: Sendable>(
        _ key: ExportKey, revision: Int64, _ body: () async throws -> T
    ) async throws -> FencedWrite<T> {
        let token = JobLock.randomToken()
        let startedAt = Date()
        let window = configuration.providerWriteWindow
        try await store.beginProviderWrite(
            ProviderWriteIntent(
                memberID: key.memberID, appointmentID: key.appointmentID, revision: revision, token: token,
                settlesAt: startedAt.addingTimeInterval((window + configuration.providerWriteSettle).timeInterval)))
        let tracker = FencedWriteWindow(deadline: ContinuousClock.now + window)
        do {
            let value = try await ProviderRequestGate.$write.withValue(tracker) { try await body() }
            return FencedWrite(value: value, token: token, startedAt: startedAt)
        } catch {
            if !tracker.outcomeUnknown {
                try? await store.settleProviderWrite(memberID: key.memberID, appointmentID: key.appointmentID, token: token)
            }
            throw error
        }
    }

    /// Until when a write of an older revision (or, where a late create can duplicate the event, of an earlier
    /// attempt of this one) may still land over this one (nil: none pending).
    func pendingVerification(_ fence: ExportFence, client: (any CalendarProvider)?) -> Date? {
        var candidates = [fence.state?.verifyAfter, fence.olderUnsettledUntil]
        if client?.lateCreateMayDuplicate == true { candidates.append(fence.sameRevisionUnsettledUntil) }
        return candidates.compactMap { $0 }.max()
    }

    /// The deferral of a job that must write its revision again once an older write can no longer land.
    func verifyLater(_ until: Date) -> JobError {
        let wait = max(0.05, until.timeIntervalSinceNow)
        return .deferred(
            .verifyPending,
            "an older write of this appointment may still land at the provider until \(until.formatted(.iso8601)); the event is written again then",
            for: .milliseconds(Int64(wait * 1000)))
    }
}
