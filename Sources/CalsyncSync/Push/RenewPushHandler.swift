import CalsyncJobs
import Foundation
import Logging

/// `renew_push`: keeps a connection's push channels open. Google: one watch channel per busy calendar; a
/// channel near expiry is replaced (open the new one, then stop the old). Graph: one subscription on the
/// member's events, renewed in place with a PATCH. The outcome lands in `push_status`/`push_detail`. It runs
/// under the connection's push lock, which a disconnect holds too (``pushLockKey(_:_:)``).
package struct RenewPushHandler: JobHandler {
    package let jobType = RenewPushPayload.jobType
    let environment: SyncEnvironment
    let pushStore: any PushChannelStore
    let push: PushConfiguration

    /// Creates the handler.
    package init(environment: SyncEnvironment, pushStore: any PushChannelStore, push: PushConfiguration) {
        self.environment = environment
        self.pushStore = pushStore
        self.push = push
    }

    package func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        let payload = try decodePayload(RenewPushPayload.self, job)
        return try await environment.withLock(
            pushLockKey(payload.memberID, payload.provider), what: "connection's push channels", context: context
        ) {
            try await renew(payload, context: context)
        }
    }

    /// Opens, renews or replaces the channels of one connection (the push lock held).
    private func renew(_ payload: RenewPushPayload, context: JobContext) async throws -> JobOutcome {
        let env = environment
        var logger = context.logger
        logger[metadataKey: LogKey.memberID] = "\(payload.memberID)"
        guard let member = try await env.store.memberState(payload.memberID) else { throw unknownMember(payload.memberID) }
        guard member.eligible else { return .skipped("ineligible") }
        guard let connection = member.connection(payload.provider), connection.status == .active else {
            return .skipped("not_connected")
        }
        guard connection.syncDirection != .outbound else {
            try await pushStore.setPushState(
                connectionID: connection.id, status: .off, detail: "This calendar is not a busy source: nothing to watch.",
                expiresAt: nil)
            return .skipped("not_importing")
        }
        guard let address = push.notificationURL(payload.provider), let lifecycle = push.lifecycleURL(payload.provider) else {
            try await pushStore.setPushState(
                connectionID: connection.id, status: .off,
                detail: "Push is off: CALSYNC_PUBLIC_URL is not set, so changes arrive by polling.", expiresAt: nil)
            return .skipped("no_public_url")
        }
        let client = try env.client(for: connection.provider)
        guard let pushClient = client as? any PushChannelProvider else {
            try await pushStore.setPushState(
                connectionID: connection.id, status: .off, detail: "This provider offers no push channels: polling applies.",
                expiresAt: nil)
            return .skipped("no_push")
        }
        // The push lock (taken in `handle`) makes this one job at a time per connection: the scheduler's upkeep and a
        // lifecycle event may meet, and two jobs never open two channels for one calendar.
        return try await maintain(
            payload, connection: connection, client: client, pushClient: pushClient, address: address, lifecycle: lifecycle,
            logger: logger)
    }

    /// Opens, renews or replaces the channels of one connection and records the outcome.
    private func maintain(
        _ payload: RenewPushPayload, connection: ConnectionRecord, client: any CalendarProvider,
        pushClient: any PushChannelProvider, address: String, lifecycle: String, logger: Logger
    ) async throws -> JobOutcome {
        let env = environment
        let lifetime = min(Duration.seconds(push.channelTTLSeconds), pushClient.maximumPushLifetime)
        let wanted = Date().addingTimeInterval(lifetime.timeInterval)
        let renewBy = Date().addingTimeInterval(Double(push.renewBeforeSeconds))
        let existing = try await pushStore.pushChannels(connectionID: connection.id)
        do {
            var expiries: [Date] = []
            switch connection.provider {
            case .google:
                let calendars = Set(connection.busyCalendarIDs)
                for calendarID in connection.busyCalendarIDs {
                    let current = existing.first { $0.calendarID == calendarID }
                    if let current, !payload.recreate, !payload.force, current.expiresAt > renewBy {
                        expiries.append(current.expiresAt)
                        continue
                    }
                    // Open the new channel first, then stop the old one: no gap in between.
                    let opened = try await open(
                        pushClient, client: client, connection: connection, calendarID: calendarID, address: address,
                        lifecycle: lifecycle, expiresAt: wanted, logger: logger)
                    expiries.append(opened.expiresAt)
                    if let current { await stop(current, pushClient: pushClient, client: client, connection: connection, logger: logger) }
                }
                for stale in existing where !calendars.contains(stale.calendarID ?? "") {
                    await stop(stale, pushClient: pushClient, client: client, connection: connection, logger: logger)
                }
            case .microsoft, .caldav:
                let current = existing.first
                var renewed: Date?
                if let current, !payload.recreate {
                    if !payload.force, current.expiresAt > renewBy {
                        renewed = current.expiresAt
                    } else {
                        do {
                            renewed = try await env.callProvider(connection, client: client, logger: logger) { credentials in
                                try await pushClient.renewPushChannel(current, expiresAt: wanted, credentials: credentials)
                            }
                            if let renewed {
                                var updated = current
                                updated.expiresAt = renewed
                                try await pushStore.savePushChannel(updated)
                            }
                        } catch let error as ProviderError where error.kind == .notFound {
                            renewed = nil  // removed at the provider: create it again below
                        }
                    }
                }
                if let renewed {
                    expiries.append(renewed)
                } else {
                    let opened = try await open(
                        pushClient, client: client, connection: connection, calendarID: nil, address: address,
                        lifecycle: lifecycle, expiresAt: wanted, logger: logger)
                    expiries.append(opened.expiresAt)
                    if let current { await stop(current, pushClient: pushClient, client: client, connection: connection, logger: logger) }
                }
                for extra in existing.dropFirst() {
                    await stop(extra, pushClient: pushClient, client: client, connection: connection, logger: logger)
                }
            }
            try await pushStore.setPushState(connectionID: connection.id, status: .active, detail: nil, expiresAt: expiries.min())
            logger.debug("push channels open", metadata: [LogKey.connectionID: "\(connection.id)"])
            return .completed
        } catch let error as ProviderError {
            try await pushStore.setPushState(
                connectionID: connection.id, status: .unavailable,
                detail: "Push is unavailable (\(error.code)): \(error.message) Changes arrive by polling.", expiresAt: nil)
            logger.warning(
                "push channel refused; polling applies",
                metadata: [LogKey.connectionID: "\(connection.id)", LogKey.errorCode: "\(error.code)"])
            let jobError = env.jobError(error)
            // Recorded, and retrying will not help: the scheduler tries again later (no dead job every time).
            if case .permanent = jobError.disposition { return .skipped("push_unavailable") }
            throw jobError
        } catch is ReconnectRequired {
            return .skipped("reconnect_required")
        } catch is PushConnectionGone {
            return .skipped("not_connected")
        }
    }

    /// Opens one channel with a fresh id and secret and records it (the secret only as its hash). A Google
    /// channel is recorded before `events.watch` (without its resource id), so that the `sync` message Google may
    /// send before answering is accepted and counted as delivery. A record refused because the connection is
    /// no longer active (a disconnect) stops the channel just opened.
    private func open(
        _ pushClient: any PushChannelProvider, client: any CalendarProvider, connection: ConnectionRecord, calendarID: String?,
        address: String, lifecycle: String, expiresAt: Date, logger: Logger
    ) async throws -> OpenedPushChannel {
        let secret = PushSecret.random()
        var record = PushChannelRecord(
            channelID: PushSecret.channelID(), connectionID: connection.id, memberID: connection.memberID,
            provider: connection.provider, resourceID: nil, calendarID: calendarID, secretHash: PushSecret.hash(secret),
            expiresAt: expiresAt)
        let provisional = connection.provider == .google
        if provisional, try await pushStore.savePushChannel(record) == false { throw PushConnectionGone() }
        let opened: OpenedPushChannel
        do {
            opened = try await environment.callProvider(connection, client: client, logger: logger) { [record] credentials in
                try await pushClient.openPushChannel(
                    channelID: record.channelID, calendarID: calendarID, address: address, lifecycleAddress: lifecycle,
                    secret: secret, expiresAt: expiresAt, credentials: credentials)
            }
        } catch {
            if provisional { try? await pushStore.deletePushChannel(id: record.channelID) }
            throw error
        }
        if provisional, opened.channelID != record.channelID { try? await pushStore.deletePushChannel(id: record.channelID) }
        record.channelID = opened.channelID
        record.resourceID = opened.resourceID
        record.expiresAt = opened.expiresAt
        guard try await pushStore.savePushChannel(record) else {
            await stop(record, pushClient: pushClient, client: client, connection: connection, logger: logger)
            throw PushConnectionGone()
        }
        return opened
    }

    /// Forgets a channel, then stops it at the provider (best effort: a stopped channel's late notifications
    /// are not trusted anyway, since its record is gone).
    private func stop(
        _ channel: PushChannelRecord, pushClient: any PushChannelProvider, client: any CalendarProvider,
        connection: ConnectionRecord, logger: Logger
    ) async {
        try? await pushStore.deletePushChannel(id: channel.channelID)
        do {
            try await environment.callProvider(connection, client: client, logger: logger) { credentials in
                try await pushClient.stopPushChannel(channel, credentials: credentials)
            }
        } catch {
            logger.info("could not stop an old push channel", metadata: [LogKey.error: "\(error)"])
        }
    }
}

/// The lock `renew_push` and a disconnect share per connection, so that no channel is opened behind a disconnect.
package func pushLockKey(_ memberID: String, _ provider: ProviderKind) -> String { "push:\(memberID):\(provider.rawValue)" }

/// The connection stopped being active while its channel was being opened: nothing is kept.
struct PushConnectionGone: Error {}
