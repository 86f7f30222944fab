import CalsyncJobs
import Foundation
import Logging

extension ConnectCalendarHandler {
    /// `connect_calendar` for CalDAV: logs in with the user name and password, discovers the default calendar,
    /// seals the password and saves the connection (in place on a reconnect). Nothing is single-use, so a rerun
    /// simply does it again. A refused login is dead with reason `invalid_credentials`, and no connection changes.
    func connectWithPassword(_ job: Job, payload: ConnectCalendarPayload, logger: Logger) async throws -> JobOutcome {
        let env = environment
        guard let serverURL = payload.serverURL, let username = payload.username, let password = payload.password else {
            throw JobError.invalid("payload.server_url, payload.username and payload.password are required for caldav")
        }
        if password.value == "[redacted]" {
            throw JobError.permanent(
                .invalidCredentials,
                "this job was retried from the dead-letter queue, where its password was redacted; ask the member to connect again",
                reason: "invalid_credentials")
        }
        guard let client = try env.client(for: payload.provider) as? any PasswordCalendarProvider else {
            throw JobError.permanent(
                .unsupportedProvider, "this worker has no \(payload.provider.rawValue) client", reason: "unsupported_provider")
        }
        try ProviderRequestGate.checkJobHeld()
        let found: PasswordConnection
        do {
            found = try await client.connect(serverURL: serverURL, username: username, password: password.value)
        } catch let error as ProviderError where error.code == .invalidCredentials {
            throw JobError.permanent(.invalidCredentials, error.message, reason: "invalid_credentials", httpStatus: error.httpStatus)
        } catch let error as ProviderError {
            throw env.jobError(error)
        }
        guard let primary = found.calendars.first(where: \.isPrimary) ?? found.calendars.first else {
            throw JobError.permanent(
                .noCalendar, "the CalDAV account has no calendar that holds events; create one, then connect again",
                reason: "no_calendar")
        }
        let sealed = try env.sealer.seal(
            found.credentials, context: env.sealContext(memberID: payload.memberID, provider: payload.provider))
        let connection = try await env.store.saveConnection(
            NewConnection(
                memberID: payload.memberID, provider: payload.provider, accountEmail: found.credentials.accountEmail,
                primaryCalendarID: primary.id, credentials: sealed, accessTokenExpiresAt: found.credentials.expiresAt,
                jobID: job.id))
        return try await connected(job, payload: payload, connection: connection, logger: logger)
    }
}
