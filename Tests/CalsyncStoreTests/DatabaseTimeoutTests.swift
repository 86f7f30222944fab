import CalsyncApp
@testable import CalsyncStore
import CalsyncSync
import Foundation
import PostgresNIO
import Testing

/// Every connection calsync opens carries `statement_timeout`, `lock_timeout` and
/// `idle_in_transaction_session_timeout`, so one hung statement cannot stall a worker.
@Suite("PostgreSQL timeouts")
struct DatabaseTimeoutTests {
    /// `body`'s error as a `StoreError` code, or nil when it succeeded or threw something else; and how long it took.
    static func failure(_ body: () async throws -> Void) async -> (code: StoreError.Code?, message: String, took: Duration) {
        let started = ContinuousClock.now
        do {
            try await body()
            return (nil, "succeeded", ContinuousClock.now - started)
        } catch let error as StoreError {
            return (error.code, error.message, ContinuousClock.now - started)
        } catch {
            return (nil, String(reflecting: error), ContinuousClock.now - started)
        }
    }

    @Test("a store connection shows the default limits: 30 s statement, 10 s lock, 60 s idle in transaction")
    func settingsAreVisible() async throws {
        try await TestDatabase.with { db in
            var shown: [String] = []
            for setting in ["statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"] {
                let rows = try await db.client.query(PostgresQuery(unsafeSQL: "SHOW \(setting)"), logger: db.logger)
                shown += try await rows.decode(String.self).collectAll()
            }
            #expect(shown == ["30s", "10s", "1min"])
        }
    }

    @Test("migrate's own connection has no statement limit and longer lock and idle limits")
    func migrationLimits() throws {
        let configuration = try DatabaseConfiguration(url: "postgres://calsync@127.0.0.1:5432/calsync", schema: "s")
        let parameters = try configuration.connectionConfiguration(timeouts: .migration).options.additionalStartupParameters
        #expect(parameters.map { "\($0.0)=\($0.1)" } == [
            "statement_timeout=0", "lock_timeout=60000", "idle_in_transaction_session_timeout=600000", "search_path=s",
        ])
        #expect(configuration.clientConfiguration().options.additionalStartupParameters.map(\.1) == ["30000", "10000", "60000", "s"])
    }

    @Test("a pg_sleep longer than the statement timeout fails with statement_timeout")
    func statementTimeout() async throws {
        try await TestDatabase.with(configure: { $0.timeouts.statement = .milliseconds(200) }) { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            let (code, message, took) = await Self.failure {
                try await store.translatingTimeouts {
                    for try await _ in try await store.query("SELECT pg_sleep(5)", logger: db.logger) {}
                }
            }
            #expect(code == .statementTimeout, "\(message)")
            #expect(message.contains("CALSYNC_DATABASE_STATEMENT_TIMEOUT_MS"))
            #expect(took < .seconds(3))
        }
    }

    @Test("a statement blocked on a row lock held by another session fails within the lock timeout with lock_timeout")
    func lockTimeout() async throws {
        try await TestDatabase.with(configure: { $0.timeouts.lock = .milliseconds(300) }) { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await SyncStoreTests.seed(db)
            let connection = try await SyncStoreTests.connect(store)
            let (code, message, took) = try await db.client.withTransaction(logger: db.logger) { holder in
                try await holder.query("SELECT 1 FROM calendar_connections FOR UPDATE", logger: db.logger)
                return await Self.failure {
                    try await store.setStatus(connectionID: connection.id, status: .reconnectRequired, detail: "x")
                }
            }
            #expect(code == .lockTimeout, "\(message)")
            #expect(message.contains("CALSYNC_DATABASE_LOCK_TIMEOUT_MS"))
            #expect(took < .seconds(3))
            #expect(try await store.memberState("m-1")?.connections.first?.status == .active)
        }
    }

    @Test("a coalesced export record that hits the lock timeout fails its whole batch at once and blocks no later batch")
    func batchTimeout() async throws {
        try await TestDatabase.with(configure: { $0.timeouts.lock = .milliseconds(400) }) { db in
            let store = PostgresSyncStore(client: db.client, logger: db.logger)
            try await SyncStoreTests.seed(db)
            func record(_ appointment: String, _ revision: Int64) -> ExportRecord {
                ExportRecord(
                    memberID: "m-1", appointmentID: appointment, revision: revision, connectionID: nil, calendarID: nil,
                    externalEventID: nil, contentHash: nil, eventPresent: false, calledConnectionID: nil)
            }
            let state = ExportState(
                appliedRevision: 1, connectionID: nil, calendarID: nil, externalEventID: nil, contentHash: nil, eventPresent: false)
            #expect(try await store.recordExport(memberID: "m-1", appointmentID: "a-1", revision: 1, state: state, calledConnectionID: nil))
            let runner = ExportRecordRunner(client: db.client, logger: db.logger)
            let (results, later) = try await db.client.withTransaction(logger: db.logger) { holder in
                try await holder.query("SELECT 1 FROM appointment_exports WHERE appointment_id = 'a-1' FOR UPDATE", logger: db.logger)
                let started = ContinuousClock.now
                let results = await runner.run([record("a-1", 2), record("a-2", 1), record("a-3", 1)])
                // Through the batcher: a record behind a blocked leader waits for one timeout at most.
                async let blocked = Self.failure {
                    _ = try await store.recordExport(memberID: "m-1", appointmentID: "a-1", revision: 3, state: state, calledConnectionID: nil)
                }
                try await Task.sleep(for: .milliseconds(50))
                let later = await Self.failure {
                    _ = try await store.recordExport(memberID: "m-1", appointmentID: "a-4", revision: 1, state: state, calledConnectionID: nil)
                }
                #expect(await blocked.code == .lockTimeout)
                #expect(ContinuousClock.now - started < .seconds(5))
                return (results, later)
            }
            let codes = results.map { result -> String in
                switch result {
                case .success: "applied"
                case .failure(let error): (error as? StoreError)?.code.rawValue ?? "\(error)"
                }
            }
            #expect(codes == ["lock_timeout", "lock_timeout", "lock_timeout"], "the batch's rows fail together, not one by one")
            #expect(later.code == nil && later.message == "succeeded", "\(later.message)")
            let stored = try await db.client.query("SELECT appointment_id FROM appointment_exports ORDER BY 1", logger: db.logger)
                .decode(String.self).collectAll()
            #expect(stored == ["a-1", "a-4"])
        }
    }

    @Test("the limits are read from CALSYNC_DATABASE_*_TIMEOUT_MS (0 = none), with 30 s / 10 s / 60 s by default")
    func configuration() async throws {
        let defaults = try await CalsyncConfiguration.load(requiring: [.database], environment: [:]).database
        #expect(defaults.timeouts == DatabaseConfiguration.Timeouts(statement: .seconds(30), lock: .seconds(10), idleInTransaction: .seconds(60)))
        let set = try await CalsyncConfiguration.load(
            requiring: [.database],
            environment: [
                "CALSYNC_DATABASE_STATEMENT_TIMEOUT_MS": "1500", "CALSYNC_DATABASE_LOCK_TIMEOUT_MS": "0",
                "CALSYNC_DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS": "120000",
            ]
        ).database
        #expect(set.clientConfiguration().options.additionalStartupParameters.map(\.1) == ["1500", "0", "120000"])
        await #expect(throws: ConfigurationError.self) {
            _ = try await CalsyncConfiguration.load(requiring: [], environment: ["CALSYNC_DATABASE_LOCK_TIMEOUT_MS": "-1"])
        }
    }
}
