import CalsyncJobs
import Foundation
import Logging

/// `connect_calendar`: exchanges the member's authorization code, finds the primary calendar, seals the
/// credentials and creates the connection or renews it in place; then imports and replays parked exports.
package struct ConnectCalendarHandler: JobHandler {
    package let jobType = ConnectCalendarPayload.jobType
    let environment: SyncEnvironment

    /// Creates the handler.
    package init(environment: SyncEnvironment) { self.environment = environment }

    package func handle(_ job: Job, context: JobContext) async throws -> JobOutcome {
        let payload = try decodePayload(ConnectCalendarPayload.self, job)
        let env = environment
        var logger = context.logger
        logger[metadataKey: LogKey.memberID] = "\(payload.memberID)"
        guard payload.actorMemberID == payload.memberID else {
            throw JobError.permanent(
                .forbidden, "member \(payload.actorMemberID) may not connect a calendar for member \(payload.memberID)",
                reason: "forbidden")
        }
        guard let member = try await env.store.memberState(payload.memberID) else { throw unknownMember(payload.memberID) }
        guard member.eligible else { return .skipped("ineligible") }
        if payload.provider == .caldav { return try await connectWithPassword(job, payload: payload, logger: logger) }
        guard let code = payload.authorizationCode, let redirectURI = payload.redirectURI else {
            throw JobError.invalid("payload.authorization_code and payload.redirect_uri are required")
        }
        if code.value == "[redacted]" {
            throw JobError.permanent(
                .authorizationCodeRedacted,
                "this job was retried from the dead-letter queue, where its authorization code was redacted; ask the member to connect again",
                reason: "authorization_code_invalid")
        }
        let client = try env.client(for: payload.provider)

        // A rerun of a connect that already got through (handed back at shutdown, or its lease lost after the
        // save): the code was redeemed once and is never sent again; only the follow-ups run.
        if try await env.store.connectionSaved(byJob: job.id, memberID: payload.memberID, provider: payload.provider) {
            logger.info("calendar already connected by this job; running its follow-ups")
            try await followUps(job, payload: payload, logger: logger)
            return .completed
        }

        // Once the code is sent, nothing may stop the exchange before its credentials are saved: the code is
        // single-use. The job's run is checked first; the exchange through the save then runs in a task of its
        // own that neither a shutdown nor a lost lease cancels (only a crash can lose it: the member connects again).
        try ProviderRequestGate.checkJobHeld()
        let connection: ConnectionRecord
        do {
            connection = try await Task {
                try await JobRun.$current.withValue(nil) {
                    try await exchangeAndSave(code: code.value, redirectURI: redirectURI, payload: payload, jobID: job.id, client: client)
                }
            }.value
        } catch let error as JobError where error.code == .authorizationCodeInvalid {
            // Refused: unless this very job saved the connection meanwhile (another run of it got through first).
            guard try await env.store.connectionSaved(byJob: job.id, memberID: payload.memberID, provider: payload.provider) else {
                throw error
            }
            logger.info("calendar already connected by another run of this job; running its follow-ups")
            try await followUps(job, payload: payload, logger: logger)
            return .completed
        }
        return try await connected(job, payload: payload, connection: connection, logger: logger)
    }

    /// A connection saved (by a code or a password): says so, then runs the follow-ups.
    func connected(
        _ job: Job, payload: ConnectCalendarPayload, connection: ConnectionRecord, logger: Logger
    ) async throws -> JobOutcome {
        logger.info(
            "calendar connected",
            metadata: [LogKey.connectionID: "\(connection.id)", LogKey.provider: "\(payload.provider.rawValue)"])
        await environment.publish(
            SyncLifecycleEvent(
                type: "connection.connected", memberID: payload.memberID, provider: payload.provider,
                detail: "Your \(payload.provider.displayName) calendar is connected."),
            logger: logger)
        try await followUps(job, payload: payload, logger: logger)
        return .completed
    }

    /// Exchanges the code, finds the primary calendar, seals the credentials and saves the connection.
    private func exchangeAndSave(
        code: String, redirectURI: String, payload: ConnectCalendarPayload, jobID: String, client: any CalendarProvider
    ) async throws -> ConnectionRecord {
        let env = environment
        let credentials: ProviderCredentials
        let primary: ProviderCalendar
        do {
            credentials = try await client.exchangeCode(code, redirectURI: redirectURI)
            let calendars = try await client.listCalendars(credentials)
            guard let found = calendars.first(where: \.isPrimary) ?? calendars.first else {
                throw JobError.permanent(
                    .noCalendar, "the \(payload.provider.rawValue) account has no calendar to sync with", reason: "no_calendar")
            }
            primary = found
        } catch let error as ProviderError where error.kind == .reconnectRequired {
            throw JobError.permanent(
                .authorizationCodeInvalid,
                "\(payload.provider.rawValue) refused the authorization code (expired or already used); ask the member to connect again",
                reason: "authorization_code_invalid", httpStatus: error.httpStatus)
        } catch let error as ProviderError {
            throw env.jobError(error)
        }
        let sealed = try env.sealer.seal(
            credentials, context: env.sealContext(memberID: payload.memberID, provider: payload.provider))
        return try await env.store.saveConnection(
            NewConnection(
                memberID: payload.memberID, provider: payload.provider, accountEmail: credentials.accountEmail,
                primaryCalendarID: primary.id, credentials: sealed, accessTokenExpiresAt: credentials.expiresAt, jobID: jobID))
    }

    /// What follows a connect: the first import, and the replay of parked exports (both safe to repeat).
    func followUps(_ job: Job, payload: ConnectCalendarPayload, logger: Logger) async throws {
        let env = environment
        let importPayload = try Job.jsonEncoder.encode(ImportWindowPayload(memberID: payload.memberID, provider: payload.provider))
        try await env.enqueuer.enqueue(
            type: ImportWindowPayload.jobType, id: followUpJobID("connect-import-\(job.id)"), payload: Array(importPayload))
        if var refreshed = try await env.store.memberState(payload.memberID) {
            refreshed.hasParkedChanges = true
            await env.replayParkedChanges(refreshed, logger: logger)
        }
    }
}

extension ProviderKind {
    /// The provider's name for people.
    package var displayName: String {
        switch self {
        case .google: "Google"
        case .microsoft: "Microsoft Outlook"
        case .caldav: "CalDAV"
        }
    }
}
