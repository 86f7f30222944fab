import CalsyncJobs
import Foundation
import Logging

/// Wraps the `import_window` handler: an incremental import of the rolling window clears the connection's
/// push mark when it starts, so that a notification arriving from then on enqueues one more import.
package struct PushAwareImportHandler: JobHandler {
    package var jobType: String { inner.jobType }
    let inner: any JobHandler
    let gate: any PushImportGate

    /// Wraps `inner` (the `import_window` handler).
    package init(wrapping inner: any JobHandler, gate: any PushImportGate) {
        self.inner = inner
        self.gate = gate
    }

    package func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        if let payload = try? ImportWindowPayload.decode(from: job.payload), payload.windowStart == nil {
            for provider in payload.provider.map({ [$0] }) ?? [.google, .microsoft] where provider != .caldav {
                do {
                    try await gate.importStarted(memberID: payload.memberID, provider: provider)
                } catch {
                    context.logger.debug("could not clear the push mark", metadata: [LogKey.error: "\(error)"])
                }
            }
        }
        return try await inner.handle(job, context: context)
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
        if let payload = try? DisconnectCalendarPayload.decode(from: job.payload), payload.actorMemberID == payload.memberID,
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
        return try await inner.handle(job, context: context)
    }
}
