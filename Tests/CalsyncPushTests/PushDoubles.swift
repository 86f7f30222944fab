import CalsyncSync
import Foundation
import Logging
import Synchronization

/// A quiet logger for tests.
let testLogger: Logger = {
    var logger = Logger(label: "calsync.test.push")
    logger.logLevel = .critical
    return logger
}()

/// An in-memory `PushChannelStore`: expired channels are not found, as in PostgreSQL; `delay` slows every read.
final class MemoryPushStore: PushChannelStore, Sendable {
    let channels = Mutex<[String: PushChannelRecord]>([:])
    let states = Mutex<[String: (PushStatus, String?, Date?)]>([:])
    let delay: Duration

    init(delay: Duration = .zero) { self.delay = delay }

    func pushChannel(id: String) async throws -> PushChannelRecord? {
        if delay > .zero { try await Task.sleep(for: delay) }
        return channels.withLock { $0[id] }.flatMap { $0.expiresAt > Date() ? $0 : nil }
    }

    /// The size of each batch read (``pushChannels(ids:)``), in order.
    let batchReads = Mutex<[Int]>([])
    /// When set, batch reads fail.
    let failsReads = Mutex(false)

    func pushChannels(ids: [String]) async throws -> [String: PushChannelRecord] {
        batchReads.withLock { $0.append(ids.count) }
        if delay > .zero { try await Task.sleep(for: delay) }
        if failsReads.withLock({ $0 }) { throw StoreDown() }
        let now = Date()
        return channels.withLock { channels in
            var found: [String: PushChannelRecord] = [:]
            for id in ids { if let channel = channels[id], channel.expiresAt > now { found[id] = channel } }
            return found
        }
    }

    func pushChannels(connectionID: String) async throws -> [PushChannelRecord] {
        channels.withLock { $0.values.filter { $0.connectionID == connectionID } }
    }

    /// Decides whether a save is written (as PostgreSQL does only while the connection is active); nil: always.
    let admits = Mutex<(@Sendable (PushChannelRecord) -> Bool)?>(nil)

    @discardableResult
    func savePushChannel(_ channel: PushChannelRecord) async throws -> Bool {
        guard admits.withLock({ $0?(channel) ?? true }) else { return false }
        channels.withLock { $0[channel.channelID] = channel }
        return true
    }

    func markPushDelivered(channelID: String) async throws {
        channels.withLock { channels in
            if channels[channelID]?.deliveredAt == nil { channels[channelID]?.deliveredAt = Date() }
        }
    }

    func deletePushChannel(id: String) async throws {
        channels.withLock { _ = $0.removeValue(forKey: id) }
    }

    func setPushState(connectionID: String, status: PushStatus, detail: String?, expiresAt: Date?) async throws {
        states.withLock { $0[connectionID] = (status, detail, expiresAt) }
    }
}

/// The failure of a store double's read.
struct StoreDown: Error {}

/// A `PushImportGate` that records what it was asked (every notification enqueues).
final class RecordingGate: PushImportGate, Sendable {
    let notified = Mutex<[String]>([])
    let channelWork = Mutex<[String]>([])

    func notifyChange(memberID: String, provider: ProviderKind) async throws -> PushNotifyOutcome {
        notified.withLock { $0.append("\(memberID):\(provider.rawValue)") }
        return .enqueued
    }

    let started = Mutex<[String]>([])

    func importStarted(memberID: String, provider: ProviderKind) async throws {
        started.withLock { $0.append("\(memberID):\(provider.rawValue)") }
    }

    func requestChannelWork(memberID: String, provider: ProviderKind, recreate: Bool, force: Bool) async throws -> Bool {
        channelWork.withLock { $0.append("\(memberID):\(provider.rawValue):\(recreate ? "recreate" : force ? "renew" : "check")") }
        return true
    }
}

/// A Google channel and a Graph subscription with known secrets, saved in `store`.
func seedChannels(_ store: MemoryPushStore, expiresIn: TimeInterval = 3600) async throws {
    try await store.savePushChannel(
        PushChannelRecord(
            channelID: "g-chan", connectionID: "c-google", memberID: "m1", provider: .google, resourceID: "res-1",
            calendarID: "cal-1", secretHash: PushSecret.hash("google-token"), expiresAt: Date().addingTimeInterval(expiresIn)))
    try await store.savePushChannel(
        PushChannelRecord(
            channelID: "sub-1", connectionID: "c-ms", memberID: "m2", provider: .microsoft, resourceID: nil, calendarID: nil,
            secretHash: PushSecret.hash("graph-state"), expiresAt: Date().addingTimeInterval(expiresIn)))
}
