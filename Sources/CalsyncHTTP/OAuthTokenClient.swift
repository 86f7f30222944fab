import AsyncHTTPClient
import CalsyncSync
import Foundation

/// OAuth 2.0 token requests (code exchange and refresh) against one token endpoint.
package struct OAuthTokenClient: Sendable {
    /// The client registration and endpoint.
    package struct Configuration: Sendable {
        /// The token endpoint URL.
        package var tokenURL: String
        /// The OAuth client id.
        package var clientID: String
        /// The OAuth client secret (never logged).
        package var clientSecret: String
        /// Scopes sent with every token request (space separated), or nil to send none.
        package var scope: String?

        /// Creates a configuration.
        package init(tokenURL: String, clientID: String, clientSecret: String, scope: String? = nil) {
            self.tokenURL = tokenURL
            self.clientID = clientID
            self.clientSecret = clientSecret
            self.scope = scope
        }
    }

    /// The decoded token answer.
    package struct TokenResponse: Sendable, Decodable {
        /// The new access token.
        package var access_token: String
        /// Seconds until the access token expires.
        package var expires_in: Double?
        /// A (possibly rotated) refresh token.
        package var refresh_token: String?
        /// The granted scopes.
        package var scope: String?
        /// An OpenID id token, when the scopes asked for one.
        package var id_token: String?
    }

    let transport: HTTPTransport
    let configuration: Configuration

    /// Creates a token client on a transport.
    package init(transport: HTTPTransport, configuration: Configuration) {
        self.transport = transport
        self.configuration = configuration
    }

    /// Exchanges an authorization code.
    package func exchange(code: String, redirectURI: String) async throws -> TokenResponse {
        try await post([
            ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
        ])
    }

    /// Refreshes `credentials`; the result keeps the refresh token unless the provider rotated it (then
    /// it carries the new one, to be stored at once), and keeps the account email and scopes.
    package func refresh(_ credentials: ProviderCredentials) async throws -> ProviderCredentials {
        guard let refreshToken = credentials.refreshToken else {
            throw ProviderError(
                code: .noRefreshToken, kind: .reconnectRequired,
                message: "\(transport.serviceName) gave no refresh token for this connection. Reconnect your calendar to resume sync.")
        }
        let token = try await refresh(refreshToken: refreshToken)
        var result = Self.credentials(from: token, previousRefreshToken: refreshToken, accountEmail: credentials.accountEmail)
        if result.scope == nil { result.scope = credentials.scope }
        return result
    }

    /// Redeems a refresh token.
    package func refresh(refreshToken: String) async throws -> TokenResponse {
        try await post([("grant_type", "refresh_token"), ("refresh_token", refreshToken)])
    }

    private func post(_ grant: [(String, String)]) async throws -> TokenResponse {
        var form = grant
        form.append(("client_id", configuration.clientID))
        form.append(("client_secret", configuration.clientSecret))
        if let scope = configuration.scope { form.append(("scope", scope)) }
        // The form holds the client secret and a code or refresh token: it goes to the configured URL only.
        let result = try await transport.send(
            .POST, configuration.tokenURL,
            headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: Array(URLEncoding.form(form).utf8), bodyHoldsCredentials: true)
        if result.isRedirect || result.followedRedirect {
            throw ProviderError.permanent(
                .tokenRedirect, status: result.status,
                "\(transport.serviceName)'s token endpoint answered with a redirect (HTTP \(result.status)); calsync never sends "
                    + "credentials on to another address. Set the token URL to the endpoint itself.")
        }
        guard result.isSuccess else { throw classify(result) }
        let token = try result.decode(TokenResponse.self, what: "token answer")
        guard !token.access_token.isEmpty else {
            throw ProviderError.retryable(.malformedResponse, status: result.status, "\(transport.serviceName) sent a token answer without an access token.")
        }
        return token
    }

    private struct OAuthErrorBody: Decodable {
        var error: String?
        var error_codes: [Int]?
    }

    /// Classifies a failed token request (`invalid_grant` → reconnect required).
    func classify(_ result: HTTPResult) -> ProviderError {
        let service = transport.serviceName
        let body = try? JSONDecoder().decode(OAuthErrorBody.self, from: result.data)
        let oauthError = body?.error ?? ""
        switch (result.status, oauthError) {
        case (400, "invalid_grant"), (401, "invalid_grant"):
            let codes = body?.error_codes.map { " (AADSTS\($0.map(String.init).joined(separator: ", AADSTS")))" } ?? ""
            return ProviderError(
                code: .invalidGrant, kind: .reconnectRequired, httpStatus: result.status,
                message: "\(service) reports that access was revoked or has expired\(codes). Reconnect your calendar to resume sync.")
        case (_, "invalid_client"), (_, "unauthorized_client"):
            return .permanent(
                .invalidClient, status: result.status,
                "\(service) refused calsync's OAuth client id or secret. Check the configured client id and secret.")
        case (429, _):
            return .retryable(.rateLimited, status: 429, retryAfter: result.retryAfter(), "\(service)'s token endpoint is rate limiting; retrying later.")
        case (500..., _):
            return .retryable(.serverError, status: result.status, retryAfter: result.retryAfter(), "\(service)'s token endpoint failed (HTTP \(result.status)); retrying later.")
        default:
            let reason = oauthError.isEmpty ? "" : " (\(oauthError.prefix(40)))"
            return .permanent(
                .tokenRequestFailed, status: result.status,
                "\(service) refused the token request with HTTP \(result.status)\(reason). Reconnect the calendar if this persists.")
        }
    }

    /// The `email` (or `preferred_username`) claim of an id token, read without verification (display only).
    package static func emailClaim(ofIDToken idToken: String?) -> String? {
        guard let idToken else { return nil }
        let parts = idToken.split(separator: ".")
        guard parts.count >= 2 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return (object["email"] as? String) ?? (object["preferred_username"] as? String)
    }

    /// Builds credentials from a token answer; a refresh answer without a refresh token keeps `previousRefreshToken`.
    package static func credentials(
        from token: TokenResponse, previousRefreshToken: String?, accountEmail: String?, now: Date = Date()
    ) -> ProviderCredentials {
        ProviderCredentials(
            accessToken: token.access_token,
            refreshToken: token.refresh_token ?? previousRefreshToken,
            expiresAt: now.addingTimeInterval(max(0, token.expires_in ?? 3600)),
            accountEmail: accountEmail,
            scope: token.scope)
    }
}
