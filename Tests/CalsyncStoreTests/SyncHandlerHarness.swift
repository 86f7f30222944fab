import CalsyncQueue
import CalsyncStore
@testable import CalsyncSync
import Foundation
import Logging
import Synchronization
import Testing

/// The sync handlers in process, over the real PostgreSQL store and a scripted provider, for one test.
struct HandlerHarness {
    let db: TestDatabase
    let store: PostgresSyncStore
    let provider: ScriptedProvider
    let locks: MemoryLocks
    let events: RecordedEvents
    let environment: SyncEnvironment

    static let sealer = try! CredentialSealer(currentKey: Array(repeating: 9, count: 32))
    /// The busy (and export) calendar of the member's Google connection.
    static let calendar = "a@x.test-primary"

    init(_ db: TestDatabase) {
        self.db = db
        self.store = PostgresSyncStore(client: db.client, logger: db.logger)
        self.provider = ScriptedProvider()
        self.locks = MemoryLocks()
        self.events = RecordedEvents()
        self.environment = SyncEnvironment(
            store: store, providers: ScriptedDirectory(provider: provider), sealer: Self.sealer, locks: locks,
            events: events, enqueuer: RecordedEvents())
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

/// A one-shot signal a test can wait for.
final class Signal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    /// Fires the signal, resuming every waiter (now and later).
    func fire() {
        let waiters = state.withLock { state in
            state.fired = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until the signal fired.
    func wait() async {
        await withCheckedContinuation { continuation in
            let fired = state.withLock { state in
                if !state.fired { state.waiters.append(continuation) }
                return state.fired
            }
            if fired { continuation.resume() }
        }
    }
}

/// A provider that answers busy reads from a scripted calendar and records its calls.
final class ScriptedProvider: CalendarProvider, Sendable {
    struct State {
        /// The calendar's busy events.
        var events: [BusyEvent] = []
        /// Full reads so far (each answers cursor `full-<n>`).
        var fullReads = 0
        /// Incremental reads so far (each answers cursor `delta-<n>`, no changes).
        var changeReads = 0
        var refreshes = 0
        /// When set, the next full read stops after reading: it fires `reached` and waits for `resume`.
        var pause: (reached: Signal, resume: Signal)?
    }

    let state = Mutex(State())
    let name = "google"

    func exchangeCode(_ code: String, redirectURI: String) async throws -> ProviderCredentials {
        throw ProviderError.permanent(.init("unexpected"), "not scripted")
    }

    func refresh(_ credentials: ProviderCredentials) async throws -> ProviderCredentials {
        state.withLock { $0.refreshes += 1 }
        return ProviderCredentials(accessToken: "at-fresh", refreshToken: "rt-fresh", expiresAt: Date().addingTimeInterval(3600))
    }

    func listCalendars(_ credentials: ProviderCredentials) async throws -> [ProviderCalendar] {
        [ProviderCalendar(id: HandlerHarness.calendar, name: "a", isPrimary: true, timeZone: "UTC")]
    }

    func upsertEvent(
        _ event: RenderedEvent, key: ExportKey, calendarID: String, knownEventID: String?, credentials: ProviderCredentials
    ) async throws -> String {
        throw ProviderError.permanent(.init("unexpected"), "not scripted")
    }

    func deleteEvent(key: ExportKey, calendarID: String, knownEventID: String?, credentials: ProviderCredentials) async throws {
        throw ProviderError.permanent(.init("unexpected"), "not scripted")
    }

    func readBusy(
        calendarID: String, window: DateInterval, memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> BusySnapshot {
        let (snapshot, pause) = state.withLock { state in
            state.fullReads += 1
            let inside = state.events.filter { $0.start < window.end && $0.end > window.start }
            defer { state.pause = nil }
            return (BusySnapshot(events: inside, cursor: SyncCursor("full-\(state.fullReads)")), state.pause)
        }
        if let pause {
            pause.reached.fire()
            await pause.resume.wait()
        }
        return snapshot
    }

    func readBusyChanges(
        calendarID: String, cursor: SyncCursor, memberTimeZone: TimeZone, credentials: ProviderCredentials
    ) async throws -> BusyChanges {
        let reads = state.withLock { state in
            state.changeReads += 1
            return state.changeReads
        }
        return BusyChanges(upserts: [], removedEventIDs: [], cursor: SyncCursor("delta-\(reads)"))
    }
}

/// The scripted provider as Google.
struct ScriptedDirectory: ProviderDirectory {
    let provider: ScriptedProvider
    func provider(_ kind: ProviderKind) -> (any CalendarProvider)? { kind == .google ? provider : nil }
}

/// Locks in memory (one process).
final class MemoryLocks: SyncLocks {
    private let held = Mutex<[String: String]>([:])

    func acquire(_ key: String, ttl: Duration) async throws -> SyncLockToken? {
        let token = SyncLockToken(key: key, token: UUID().uuidString)
        return held.withLock { held in
            guard held[key] == nil else { return nil }
            held[key] = token.token
            return token
        }
    }

    func release(_ token: SyncLockToken) async throws {
        held.withLock { held in
            if held[token.key] == token.token { held[token.key] = nil }
        }
    }
}

/// Records lifecycle events and follow-up jobs.
final class RecordedEvents: SyncEventPublisher, SyncJobEnqueuer {
    let published = Mutex<[SyncLifecycleEvent]>([])
    let enqueued = Mutex<[String]>([])

    func publish(_ event: SyncLifecycleEvent) async throws { published.withLock { $0.append(event) } }
    func enqueue(type: String, id: String, payload: [UInt8]) async throws { enqueued.withLock { $0.append(type) } }
}
