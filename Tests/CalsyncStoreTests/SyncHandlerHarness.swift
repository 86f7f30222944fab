import PostgresNIO
import CalsyncJobs
import CalsyncStore
@testable import CalsyncSync
import CalsyncSyncTesting
import Foundation
import Logging
import Testing

/// The sync handlers in process, over the real PostgreSQL store and the in-memory doubles of
/// CalsyncSyncTesting (a recording provider, locks, events), for one test.
struct HandlerHarness {
    let db: TestDatabase
    let store: PostgresSyncStore
    let provider: RecordingProvider
    let locks: InMemorySyncLocks
    let events: RecordingPublisher
    let environment: SyncEnvironment

    static let sealer = try! CredentialSealer(currentKey: Array(repeating: 9, count: 32))
    /// The busy (and export) calendar of the member's Google connection.
    static let calendar = "a@x.test-primary"

    init(_ db: TestDatabase) {
        self.db = db
        self.store = PostgresSyncStore(client: db.client, logger: db.logger)
        self.provider = RecordingProvider(accountEmail: "a@x.test", primaryCalendarID: Self.calendar)
        self.locks = InMemorySyncLocks()
        self.events = RecordingPublisher()
        self.environment = SyncEnvironment(
            store: store, providers: ProviderDirectoryDouble([.google: provider]), sealer: Self.sealer, locks: locks,
            events: events, enqueuer: RecordingEnqueuer())
    }

    /// Seeds an eligible organization and member `m-1` and connects its Google calendar; returns the connection.
    func connect(expiresIn: TimeInterval = 3600) async throws -> ConnectionRecord {
        try await SyncStoreTests.seed(db)
        let credentials = ProviderCredentials(
            accessToken: "at-1", refreshToken: "rt-1", expiresAt: Date().addingTimeInterval(expiresIn))
        return try await store.saveConnection(
            NewConnection(
                memberID: "m-1", provider: .google, accountEmail: "a@x.test", primaryCalendarID: Self.calendar,
                credentials: try Self.sealer.seal(credentials, context: "calsync:credentials:m-1:google"),
                accessTokenExpiresAt: credentials.expiresAt))
    }

    /// Runs one job through `handler`; its outcome as `completed` or `skipped:<reason>`.
    func run(_ handler: some JobHandler, _ payload: String) async throws -> String {
        let job = Job(
            id: "job-\(UUID().uuidString.prefix(8))", type: handler.jobType, enqueuedAt: nil, payload: Array(payload.utf8),
            raw: Array(payload.utf8), attempt: 1)
        switch try await handler.handle(job, context: JobContext(logger: db.logger, workerID: "test", deferrals: 0)) {
        case .completed: return "completed"
        case .skipped(let reason): return "skipped:\(reason)"
        }
    }

    /// Runs an `import_window` job.
    func importWindow(_ payload: String = #"{"member_id":"m-1"}"#) async throws -> String {
        try await run(ImportWindowHandler(environment: environment), payload)
    }

    /// The member's stored busy blocks: external event id → start.
    func blocks() async throws -> [String: Date] {
        var blocks: [String: Date] = [:]
        let rows = try await db.client.query("SELECT external_event_id, starts_at FROM external_busy_blocks", logger: db.logger)
        for try await (id, start) in rows.decode((String, Date).self) { blocks[id] = start }
        return blocks
    }

    /// The stored cursor of the busy calendar.
    func cursor(_ connection: ConnectionRecord) async throws -> String? {
        try await store.cursor(connectionID: connection.id, calendarID: Self.calendar)?.value
    }

    /// An RFC 3339 instant.
    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
