import CalsyncJobs
import Foundation
import Logging

/// Wraps the `import_window` handler: an incremental import of the rolling window clears the connection's
/// push mark once it holds the member's import lock (an import deferred by a running one clears nothing), so
/// that a notification arriving from then on enqueues one more import.
package struct PushAwareImportHandler: JobHandler {
    package var jobType: String { inner.jobType }
    let inner: any JobHandler
    let gate: any PushImportGate
    /// False when `inner` is an ``ImportWindowHandler``, which calls the gate itself once the lock is held.
    let clearsBeforeInner: Bool

    /// Wraps `inner` (the `import_window` handler).
    package init(wrapping inner: any JobHandler, gate: any PushImportGate) {
        self.gate = gate
        if var importer = inner as? ImportWindowHandler {
            importer.onLockAcquired = { payload, logger in await Self.clearMark(payload, gate: gate, logger: logger) }
            self.inner = importer
            self.clearsBeforeInner = false
        } else {
            self.inner = inner
            self.clearsBeforeInner = true
        }
    }

    package func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        if clearsBeforeInner, let payload = try? ImportWindowPayload.decode(from: job.payload) {
            await Self.clearMark(payload, gate: gate, logger: context.logger)
        }
        return try await inner.handle(job, context: context)
    }

    /// Clears the push mark of the connections an incremental import of the rolling window covers.
    static func clearMark(_ payload: ImportWindowPayload, gate: any PushImportGate, logger: Logger) async {
        guard payload.windowStart == nil else { return }
        for provider in payload.provider.map({ [$0] }) ?? [.google, .microsoft] where provider != .caldav {
            do {
                try await gate.importStarted(memberID: payload.memberID, provider: provider)
            } catch {
                logger.debug("could not clear the push mark", metadata: [LogKey.error: "\(error)"])
            }
        }
    }
}

/// Wraps the `disconnect_calendar` handler: before the credentials are erased, the connection's push
/// channels are forgotten (their notifications are no longer trusted) and stopped at the provider.
package struct PushAwareDisconnectHandler: JobHandler {
    package var jobType: String { inner.jobType }
    let inner: any JobHandler
    let environment: SyncEnvironment
    let pushStore: any PushChannelStore

    /// Wraps `inner` (the `disconnect_calendar` handler).
    package init(wrapping inner: any JobHandler, environment: SyncEnvironment, pushStore: any PushChannelStore) {
        self.inner = inner
        self.environment = environment
        self.pushStore = pushStore
    }

    package func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        guard let payload = try? DisconnectCalendarPayload.decode(from: job.payload) else {
            return try await inner.handle(job, context: context)
        }
        // Under the connection's push lock until the disconnect is done: no `renew_push` opens a channel meanwhile.
        return try await environment.withLock(
            pushLockKey(payload.memberID, payload.provider), what: "connection's push channels", context: context
        ) {
            try await stopChannels(payload, context: context)
            return try await inner.handle(job, context: context)
        }
    }

    /// Forgets and stops the channels of the connection being disconnected, and sets its push `off`.
    private func stopChannels(_ payload: DisconnectCalendarPayload, context: JobContext) async throws {
        if payload.actorMemberID == payload.memberID,
            let member = try await environment.store.memberState(payload.memberID), member.eligible,
            let connection = member.connection(payload.provider), connection.status != .disconnected
        {
            let channels = try await pushStore.pushChannels(connectionID: connection.id)
            for channel in channels { try await pushStore.deletePushChannel(id: channel.channelID) }
            if !channels.isEmpty, connection.status == .active, let client = environment.providers.provider(connection.provider),
                let pushClient = client as? any PushChannelProvider
            {
                for channel in channels {
                    do {
                        try await environment.callProvider(connection, client: client, logger: context.logger) { credentials in
                            try await pushClient.stopPushChannel(channel, credentials: credentials)
                        }
                    } catch {
                        context.logger.info("could not stop a push channel", metadata: [LogKey.error: "\(error)"])
                    }
                }
            }
            try await pushStore.setPushState(
                connectionID: connection.id, status: .off, detail: "Disconnected: no push channel is open.", expiresAt: nil)
        }
    }
}
