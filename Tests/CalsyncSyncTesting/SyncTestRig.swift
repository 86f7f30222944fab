import CalsyncJobs
import CalsyncSync
import Foundation
import Logging

/// The sync handlers in process over the in-memory doubles: one rig per test. The member `m-1` of the
/// eligible organization `org-1` exists; `connect()` gives it a Google connection.
package struct SyncTestRig: Sendable {
    package let store: InMemorySyncStore
    package let provider: RecordingProvider
    package let locks: InMemorySyncLocks
    package let events: RecordingPublisher
    package let enqueuer: RecordingEnqueuer
    package let limiter: ScriptedRateLimiter
    package let environment: SyncEnvironment
    package let logger: Logger

    /// The sealer the rig's credentials are sealed with.
    package static let sealer = try! CredentialSealer(currentKey: Array(repeating: 9, count: 32))

    /// A rig with member `m-1` of eligible organization `org-1`, and a Google provider.
    package init(configuration: SyncConfiguration = .init()) {
        store = InMemorySyncStore()
        provider = RecordingProvider()
        locks = InMemorySyncLocks()
        events = RecordingPublisher()
        enqueuer = RecordingEnqueuer()
        limiter = ScriptedRateLimiter()
        logger = Logger(label: "calsync.test") { _ in SwiftLogNoOpLogHandler() }
        environment = SyncEnvironment(
            store: store, providers: ProviderDirectoryDouble([.google: provider]), sealer: Self.sealer, locks: locks,
            events: events, enqueuer: enqueuer, limiter: limiter, configuration: configuration)
        store.addOrganization("org-1")
        store.addMember("m-1", organizationID: "org-1")
    }

    /// Connects `member`'s calendar of `provider` as a connect job would have; returns the connection.
    @discardableResult
    package func connect(
        member: String = "m-1", provider kind: ProviderKind = .google, expiresIn: TimeInterval = 3600,
        calendarID: String? = nil
    ) async throws -> ConnectionRecord {
        let credentials = ProviderCredentials(
            accessToken: "at-0", refreshToken: "rt-0", expiresAt: Date().addingTimeInterval(expiresIn))
        return try await store.saveConnection(
            NewConnection(
                memberID: member, provider: kind, accountEmail: provider.accountEmail,
                primaryCalendarID: calendarID ?? provider.primaryCalendarID,
                credentials: try Self.sealer.seal(
                    credentials, context: CredentialSealer.connectionContext(memberID: member, provider: kind.rawValue)),
                accessTokenExpiresAt: credentials.expiresAt))
    }

    /// The handler of a job type, over the rig's environment.
    package func handler(_ type: String) -> any JobHandler {
        switch type {
        case ConnectCalendarPayload.jobType: ConnectCalendarHandler(environment: environment)
        case DisconnectCalendarPayload.jobType: DisconnectCalendarHandler(environment: environment)
        case ExportAppointmentPayload.jobType: ExportAppointmentHandler(environment: environment)
        case DeleteExternalEventPayload.jobType: DeleteExternalEventHandler(environment: environment)
        case ImportWindowPayload.jobType: ImportWindowHandler(environment: environment)
        case RefreshTokenPayload.jobType: RefreshTokenHandler(environment: environment)
        default: preconditionFailure("no handler for \(type)")
        }
    }

    /// Runs one job to its end in process: `completed`, `skipped:<reason>`, or the thrown `JobError` as
    /// `deferred:<code>`, `retryable:<code>`, `permanent:<reason>:<code>` or `invalid`.
    @discardableResult
    package func run(_ job: TestJob, id: String? = nil, run: JobRun? = nil) async throws -> String {
        let payload = job.payload
        let job = Job(
            id: id ?? "job-\(UUID().uuidString.prefix(8))", type: job.type, enqueuedAt: nil, payload: payload, raw: payload,
            attempt: 1)
        let context = JobContext(logger: logger, workerID: "test", deferrals: 0)
        do {
            let outcome = try await JobRun.$current.withValue(run) {
                try await handler(job.type).handle(job, context: context)
            }
            switch outcome {
            case .completed: return "completed"
            case .skipped(let reason): return "skipped:\(reason)"
            }
        } catch let error as JobError {
            switch error.disposition {
            case .deferred: return "deferred:\(error.code)"
            case .retryable: return "retryable:\(error.code)"
            case .permanent(let reason): return "permanent:\(reason):\(error.code)"
            case .invalid: return "invalid"
            }
        }
    }

    /// Runs the follow-up jobs enqueued so far (and theirs), in order; returns their outcomes.
    @discardableResult
    package func runEnqueued() async throws -> [String] {
        var outcomes: [String] = []
        while case let jobs = enqueuer.take(), !jobs.isEmpty {
            for job in jobs {
                outcomes.append(try await run(TestJob(type: job.type, payload: job.payload), id: job.id))
            }
        }
        return outcomes
    }
}
