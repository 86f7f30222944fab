extension CalendarProvider {
    /// Runs `operation`; when the provider refuses the access token (`.authExpired`), refreshes once,
    /// hands the new credentials to `didRefresh` (persist them there: Microsoft rotates the refresh
    /// token), and runs `operation` again with them. A second refusal is thrown as is.
    public func withAuthRetry<T: Sendable>(
        _ credentials: ProviderCredentials,
        didRefresh: (ProviderCredentials) async throws -> Void,
        _ operation: (ProviderCredentials) async throws -> T
    ) async throws -> T {
        do {
            return try await operation(credentials)
        } catch let error as ProviderError where error.kind == .authExpired {
            let fresh = try await refresh(credentials)
            try await didRefresh(fresh)
            return try await operation(fresh)
        }
    }
}
