import CalsyncJobs
import Crypto
import Foundation
import Logging

/// The member must reconnect: the connection was marked `reconnect_required` and the job stops calling the provider.
struct ReconnectRequired: Error {
    let detail: String
}

extension SyncEnvironment {
    /// The context sealed credentials are bound to: a sealed blob only opens for its own member and provider.
    func sealContext(memberID: String, provider: ProviderKind) -> String {
        CredentialSealer.connectionContext(memberID: memberID, provider: provider.rawValue)
    }

    /// The provider client of a connection, or a permanent error saying what to configure.
    func client(for provider: ProviderKind) throws -> any CalendarProvider {
        guard let client = providers.provider(provider) else {
            throw JobError.permanent(
                .providerNotConfigured,
                "\(provider.rawValue) is not configured on this worker: set its client id and secret (see config/calsync.env.example)",
                reason: "provider_not_configured")
        }
        return client
    }

    /// Usable credentials of a connection: refreshed first (once across all processes) when they
    /// expire within the refresh margin, or when `force` is set.
    func credentials(
        for connection: ConnectionRecord, client: any CalendarProvider, force: Bool = false, logger: Logger
    ) async throws -> ProviderCredentials {
        guard let sealed = connection.credentials else {
            throw try await markReconnectRequired(
                connection, detail: "No credentials are stored for this calendar. Reconnect your calendar to resume sync.",
                logger: logger)
        }
        let current = try openCredentials(sealed, connection: connection)
        if !force, !current.expires(within: configuration.refreshMargin) { return current }
        return try await refresh(connection, client: client, replacing: current.accessToken, logger: logger)
    }

    /// Refreshes under the connection's credential lock. When another process refreshed meanwhile
    /// (the stored access token is no longer `replacing` and still fresh), its result is used instead.
    /// A rotated refresh token is stored before this returns, so it is persisted before it is used.
    func refresh(
        _ connection: ConnectionRecord, client: any CalendarProvider, replacing seenToken: String, logger: Logger
    ) async throws -> ProviderCredentials {
        let sealer = self.sealer
        let context = sealContext(memberID: connection.memberID, provider: connection.provider)
        let margin = configuration.refreshMargin
        let stored: SealedCredentials?
        do {
            stored = try await store.withCredentialLock(connectionID: connection.id) { sealedNow in
                guard let sealedNow else { return .keep }
                let now = try sealer.open(ProviderCredentials.self, from: sealedNow, context: context)
                if now.accessToken != seenToken, !now.expires(within: margin) { return .keep }
                var fresh = try await client.refresh(now)
                if fresh.refreshToken == nil { fresh.refreshToken = now.refreshToken }
                if fresh.accountEmail == nil { fresh.accountEmail = now.accountEmail }
                return .store(try sealer.seal(fresh, context: context), expiresAt: fresh.expiresAt)
            }
        } catch let error as ProviderError where error.kind == .reconnectRequired {
            throw try await markReconnectRequired(connection, detail: error.message, logger: logger)
        }
        guard let stored else {
            throw try await markReconnectRequired(
                connection, detail: "No credentials are stored for this calendar. Reconnect your calendar to resume sync.",
                logger: logger)
        }
        logger.debug("access token refreshed", metadata: [LogKey.connectionID: "\(connection.id)"])
        return try openCredentials(stored, connection: connection)
    }

    /// Calls the provider with fresh credentials; a 401 refreshes once and retries once. Every request
    /// passes the connection's rate limits; a limit, or the provider's own rate-limit answer, defers the job
    /// (no attempt burnt) and, for the latter, pushes the bucket forward so every worker backs off together.
    func callProvider<T: Sendable>(
        _ connection: ConnectionRecord, client: any CalendarProvider, logger: Logger,
        _ body: (ProviderCredentials) async throws -> T
    ) async throws -> T {
        // A token refresh is not part of a fenced write: nothing of the event can land through it.
        let credentials = try await ProviderRequestGate.$write.withValue(nil) {
            try await self.credentials(for: connection, client: client, logger: logger)
        }
        let scope = RateScope(provider: connection.rateBucket, connectionID: connection.id)
        let gate = ProviderRequestGate(limiter: limiter, scope: scope, reserveUpTo: configuration.rateLimitReserve)
        do {
            return try await ProviderRequestGate.$current.withValue(gate) {
                do {
                    return try await body(credentials)
                } catch let error as ProviderError where error.kind == .authExpired {
                    logger.debug("access token refused; refreshing once")
                    let fresh = try await ProviderRequestGate.$write.withValue(nil) {
                        try await refresh(connection, client: client, replacing: credentials.accessToken, logger: logger)
                    }
                    return try await body(fresh)
                }
            }
        } catch let limited as RateLimited {
            try await store.recordRateLimited(connectionID: connection.id, until: Date().addingTimeInterval(limited.retryAfter.timeInterval))
            throw JobError.deferred(.rateLimited, "waiting for the \(limited.limit) rate limit", for: limited.retryAfter)
        } catch let error as ProviderError where error.code == .rateLimited || error.code == .quotaExceeded {
            let wait = error.retryAfter ?? configuration.rateLimitBackoff
            await limiter.penalize(scope, appWide: error.code == .quotaExceeded, for: wait)
            try await store.recordRateLimited(connectionID: connection.id, until: Date().addingTimeInterval(wait.timeInterval))
            logger.info("provider rate limit; deferring", metadata: [LogKey.retryAfterMilliseconds: "\(wait.milliseconds)"])
            throw JobError.deferred(JobError.Code(error.code.rawValue), error.message, for: wait)
        } catch let error as ProviderError {
            // Any other answer with `Retry-After` (a 503, say) holds every worker's requests for this
            // connection too, not only this job's retry: "wait at least that long", on any provider.
            if let wait = error.retryAfter, wait > .zero {
                await limiter.penalize(scope, appWide: false, for: wait)
            }
            throw error
        }
    }

    /// Opens a connection's sealed credentials, or says what to do when that is impossible.
    func openCredentials(_ sealed: SealedCredentials, connection: ConnectionRecord) throws -> ProviderCredentials {
        let context = sealContext(memberID: connection.memberID, provider: connection.provider)
        // The same bytes open to the same credentials, as long as their key is still configured.
        if sealer.knowsKey(sealed.keyID), let opened = openedCredentials.value(sealed, context: context) { return opened }
        do {
            let opened = try sealer.open(ProviderCredentials.self, from: sealed, context: context)
            openedCredentials.store(opened, sealed, context: context)
            return opened
        } catch let error as CredentialSealError {
            throw JobError.permanent(JobError.Code(error.code.rawValue), error.message, reason: "credentials_unreadable")
        }
    }

    /// Marks a connection `reconnect_required`, tells the web tier, and returns the error that stops the job's
    /// provider calls. A connection disconnected meanwhile stays `disconnected` and nobody is told.
    func markReconnectRequired(_ connection: ConnectionRecord, detail: String, logger: Logger) async throws -> ReconnectRequired {
        guard try await store.setStatus(connectionID: connection.id, status: .reconnectRequired, detail: detail) else {
            logger.debug("calendar connection was disconnected meanwhile", metadata: [LogKey.connectionID: "\(connection.id)"])
            return ReconnectRequired(detail: detail)
        }
        logger.warning(
            "calendar connection needs a reconnect",
            metadata: [LogKey.connectionID: "\(connection.id)", LogKey.provider: "\(connection.provider.rawValue)"])
        await publish(
            SyncLifecycleEvent(
                type: "connection.reconnect_required", memberID: connection.memberID, provider: connection.provider,
                detail: detail),
            logger: logger)
        return ReconnectRequired(detail: detail)
    }

    /// Publishes a lifecycle event; a failure to publish is logged, never fatal.
    func publish(_ event: SyncLifecycleEvent, logger: Logger) async {
        do {
            try await events.publish(event)
        } catch {
            logger.warning("could not publish lifecycle event \(event.type)", metadata: [LogKey.error: "\(error)"])
        }
    }

    /// Runs `body` holding the lock `key`; a held lock defers the job (no attempt burnt). With a job
    /// `context` and locks the engine can handle (they live in the queue's Redis), the lock is held until the
    /// job ends: renewed with the job's lease (the job is cancelled if it is lost) and released with its
    /// acknowledgement. Otherwise, and after an error, it is released at once.
    func withLock<T: Sendable>(
        _ key: String, what: String, context: JobContext? = nil, _ body: () async throws -> T
    ) async throws -> T {
        guard let token = try await locks.acquire(key, ttl: configuration.lockTTL) else {
            throw JobError.deferred(.locked, "another job for the same \(what) is running", for: configuration.lockedRetryDelay)
        }
        let engineHeld = context != nil && locks.releasedWithJob
        if engineHeld { context?.heldLocks.hold(token) }
        do {
            let result = try await body()
            if !engineHeld { try? await locks.release(token) }
            return result
        } catch {
            context?.heldLocks.drop(token)
            try? await locks.release(token)
            throw error
        }
    }

    /// Which way an attempt went, for the last-sync columns.
    enum Direction { case inbound, outbound }

    /// Records a failed provider attempt on the connection, tells the web tier when retrying will not
    /// help (`sync.failed`), and returns the job error to throw.
    func providerFailure(
        _ error: ProviderError, connection: ConnectionRecord, direction: Direction, logger: Logger
    ) async throws -> JobError {
        switch direction {
        case .inbound: try await store.recordInboundAttempt(connectionID: connection.id, error: error.message)
        case .outbound: try await store.recordOutboundAttempt(connectionID: connection.id, error: error.message)
        }
        let jobError = jobError(error)
        if case .permanent = jobError.disposition {
            logger.warning("sync failed", metadata: [LogKey.errorCode: "\(error.code)", LogKey.connectionID: "\(connection.id)"])
            await publish(
                SyncLifecycleEvent(
                    type: "sync.failed", memberID: connection.memberID, provider: connection.provider, detail: error.message),
                logger: logger)
        }
        return jobError
    }

    /// The job error for a provider failure (after any refresh-and-retry).
    func jobError(_ error: ProviderError) -> JobError {
        switch error.kind {
        case .retryable(let retryAfter):
            return .retryable(JobError.Code(error.code.rawValue), error.message, retryAfter: retryAfter, httpStatus: error.httpStatus)
        case .authExpired, .fullResyncRequired:
            return .retryable(JobError.Code(error.code.rawValue), error.message, httpStatus: error.httpStatus)
        case .notFound, .permanent, .reconnectRequired:
            return .permanent(JobError.Code(error.code.rawValue), error.message, reason: "provider_refused", httpStatus: error.httpStatus)
        }
    }

    /// Enqueues the member's parked changes again, when their connection is active and the organization eligible.
    func replayParkedChanges(_ member: MemberSyncState, logger: Logger) async {
        guard member.hasParkedChanges, member.eligible, member.exportConnection?.status == .active else { return }
        do {
            let parked = try await store.takeParkedChanges(memberID: member.memberID, now: Date())
            for change in parked {
                let job = change.replayJob
                try await enqueuer.enqueue(type: job.type, id: job.id, payload: job.payload)
            }
            if !parked.isEmpty { logger.info("replayed \(parked.count) parked change(s)") }
        } catch {
            logger.warning("could not replay parked changes", metadata: [LogKey.error: "\(error)"])
        }
    }
}

/// Decodes a job's payload; a broken schema dead-letters the job as `invalid_job`.
func decodePayload<P: JobPayload>(_ type: P.Type, _ job: Job) throws -> P {
    do {
        return try P.decode(from: job.payload)
    } catch {
        throw JobError.invalid(error.message)
    }
}

/// A job id for a follow-up job: the readable form when it fits the 128-character limit, else a digest of it.
package func followUpJobID(_ readable: String) -> String {
    // Counting bytes first spares counting characters for every id that is short anyway.
    guard readable.utf8.count > Job.idLengths.upperBound, readable.count > Job.idLengths.upperBound else { return readable }
    let digest = SHA256.hash(data: Array(readable.utf8)).map { String(format: "%02x", $0) }.joined()
    return "job-\(digest)"
}

/// The error for a job about a member calsync does not know.
func unknownMember(_ memberID: String) -> JobError {
    .permanent(
        .unknownMember,
        "member \(memberID) is not in the members table: the web tier writes a member (and its organization) before enqueuing its jobs",
        reason: "unknown_member")
}
