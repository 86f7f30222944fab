import Foundation

/// The Google and Microsoft OAuth 2.0 token endpoints (form-encoded POST).
enum OAuthEndpoints {
    static let googleScope = "https://www.googleapis.com/auth/calendar openid https://www.googleapis.com/auth/userinfo.email"

    /// A token endpoint's answer (Google leaves out `ext_expires_in`; a refresh token only where one is issued).
    struct TokenAnswer: Encodable {
        var accessToken: String
        var tokenType = "Bearer"
        var expiresIn: Int
        var extExpiresIn: Int?
        var scope: String
        var refreshToken: String?
        var idToken: String?

        enum CodingKeys: String, CodingKey {
            case accessToken = "access_token"
            case tokenType = "token_type"
            case expiresIn = "expires_in"
            case extExpiresIn = "ext_expires_in"
            case scope
            case refreshToken = "refresh_token"
            case idToken = "id_token"
        }
    }

    /// Google's token error body.
    struct GoogleErrorBody: Encodable {
        var error: String
        var errorDescription: String

        enum CodingKeys: String, CodingKey {
            case error
            case errorDescription = "error_description"
        }
    }

    /// Microsoft's token error body (AADSTS code, trace and correlation ids).
    struct MicrosoftErrorBody: Encodable {
        var error: String
        var errorDescription: String
        var errorCodes: [Int]
        var timestamp: String
        var traceID: String
        var correlationID: String

        enum CodingKeys: String, CodingKey {
            case error
            case errorDescription = "error_description"
            case errorCodes = "error_codes"
            case timestamp
            case traceID = "trace_id"
            case correlationID = "correlation_id"
        }
    }

    static func googleError(_ status: Int, _ error: String, _ description: String) -> APIResponse {
        .encoded(
            status, GoogleErrorBody(error: error, errorDescription: description),
            headers: [("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")])
    }

    static func microsoftError(_ status: Int, _ error: String, code: Int, _ description: String) -> APIResponse {
        let now = SandboxTime.formatWall(Sandbox.now) + "Z"
        let trace = UUID().uuidString.lowercased()
        let description = "AADSTS\(code): \(description) Trace ID: \(trace) Correlation ID: \(UUID().uuidString.lowercased()) Timestamp: \(now)"
        return .encoded(
            status,
            MicrosoftErrorBody(
                error: error, errorDescription: description, errorCodes: [code], timestamp: now, traceID: trace,
                correlationID: UUID().uuidString.lowercased()))
    }

    static func issueAccessToken(_ s: inout SandboxState, account: AccountState, scope: String) -> (String, Int) {
        let token = (account.provider == .google ? "ya29.sbx" : "EwB4sbx") + SandboxRandom.token(60)
        let c = s.configuration.accessTokenLifetime.components
        let seconds = min(1e12, max(0, Double(c.seconds) + Double(c.attoseconds) / 1e18))
        s.accessTokens[token] = AccessTokenRecord(
            key: AccountKey(provider: account.provider, email: account.email), generation: account.accessGeneration,
            expires: Sandbox.now + seconds, scope: scope)
        return (token, max(1, Int(seconds.rounded(.up))))
    }

    static func issueRefreshToken(_ s: inout SandboxState, account: AccountState, scope: String, clientID: String) -> String {
        let token = (account.provider == .google ? "1//sbx" : "M.C5sbx") + SandboxRandom.token(60)
        s.refreshTokens[token] = RefreshTokenRecord(
            key: AccountKey(provider: account.provider, email: account.email), generation: account.refreshGeneration,
            scope: scope, clientID: clientID, rotated: false)
        return token
    }

    /// An unsigned, JWT-shaped id_token carrying the account's email (clients must not trust it for security).
    static func idToken(email: String, audience: String, issuer: String) -> String {
        func b64(_ v: JSONValue) -> String {
            Data(v.serialized.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        let now = Int(Sandbox.now)
        let header: JSONValue = ["alg": "none", "typ": "JWT"]
        let payload: JSONValue = [
            "iss": .string(issuer), "aud": .string(audience), "sub": .string(String(email.hashValue & 0x7fff_ffff)),
            "email": .string(email), "email_verified": true, "preferred_username": .string(email),
            "iat": .number(Double(now)), "exp": .number(Double(now + 3600)),
        ]
        return b64(header) + "." + b64(payload) + ".sandbox"
    }

    // MARK: Google

    static func google(_ s: inout SandboxState, _ request: APIRequest) -> APIResponse {
        guard request.method == "POST" else { return googleError(405, "invalid_request", "Method not allowed; use POST.") }
        let f = request.formFields
        guard let grant = f["grant_type"] else {
            return googleError(400, "unsupported_grant_type", "Invalid grant_type: ")
        }
        guard f["client_id"] == s.configuration.googleClientID, f["client_secret"] == s.configuration.googleClientSecret else {
            return googleError(401, "invalid_client", "Unauthorized")
        }
        switch grant {
        case "authorization_code":
            guard let code = f["code"], var record = s.codes[code], record.key.provider == .google else {
                return googleError(400, "invalid_grant", "Malformed auth code.")
            }
            guard !record.used, record.expires > Sandbox.now else {
                return googleError(400, "invalid_grant", "Bad Request")
            }
            guard f["redirect_uri"] == record.redirectURI else {
                return googleError(400, "redirect_uri_mismatch", "Bad Request")
            }
            record.used = true
            s.codes[code] = record
            guard let account = s.accounts[record.key] else { return googleError(400, "invalid_grant", "Bad Request") }
            let (access, lifetime) = issueAccessToken(&s, account: account, scope: googleScope)
            let refresh = issueRefreshToken(&s, account: account, scope: googleScope, clientID: s.configuration.googleClientID)
            return .encoded(
                200,
                TokenAnswer(
                    accessToken: access, expiresIn: lifetime > 1 ? lifetime - 1 : lifetime, scope: googleScope,
                    refreshToken: refresh,
                    idToken: idToken(email: account.email, audience: s.configuration.googleClientID, issuer: "https://accounts.google.com")))
        case "refresh_token":
            guard let token = f["refresh_token"], let record = s.refreshTokens[token], record.key.provider == .google,
                let account = s.accounts[record.key], record.generation == account.refreshGeneration
            else {
                return googleError(400, "invalid_grant", "Token has been expired or revoked.")
            }
            let (access, lifetime) = issueAccessToken(&s, account: account, scope: record.scope)
            return .encoded(
                200, TokenAnswer(accessToken: access, expiresIn: lifetime > 1 ? lifetime - 1 : lifetime, scope: record.scope))
        default:
            return googleError(400, "unsupported_grant_type", "Invalid grant_type: \(grant)")
        }
    }

    // MARK: Microsoft

    static func microsoft(_ s: inout SandboxState, _ request: APIRequest) -> APIResponse {
        guard request.method == "POST" else {
            return microsoftError(400, "invalid_request", code: 900561, "The endpoint only accepts POST requests.")
        }
        let f = request.formFields
        guard let grant = f["grant_type"] else {
            return microsoftError(400, "invalid_request", code: 900144, "The request body must contain the following parameter: 'grant_type'.")
        }
        guard let clientID = f["client_id"] else {
            return microsoftError(400, "invalid_request", code: 900144, "The request body must contain the following parameter: 'client_id'.")
        }
        guard clientID == s.configuration.microsoftClientID else {
            return microsoftError(400, "unauthorized_client", code: 700016, "Application with identifier '\(clientID)' was not found in the directory.")
        }
        guard f["client_secret"] == s.configuration.microsoftClientSecret else {
            return microsoftError(401, "invalid_client", code: 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
        }
        guard let scopeText = f["scope"], !scopeText.trimmingCharacters(in: .whitespaces).isEmpty else {
            return microsoftError(400, "invalid_request", code: 900144, "The request body must contain the following parameter: 'scope'.")
        }
        let scopes = scopeText.split(separator: " ").map(String.init)
        let offline = scopes.contains("offline_access")
        let grantedScope = scopes.filter { $0 != "offline_access" && $0 != "openid" && $0 != "profile" && $0 != "email" }
            .map { $0.hasPrefix("https://graph.microsoft.com/") ? $0 : "https://graph.microsoft.com/" + $0 }
            .joined(separator: " ")
        let account: AccountState
        switch grant {
        case "authorization_code":
            guard let code = f["code"], var record = s.codes[code], record.key.provider == .microsoft else {
                return microsoftError(400, "invalid_grant", code: 70000, "The provided value for the 'code' parameter is not valid.")
            }
            guard !record.used else {
                return microsoftError(400, "invalid_grant", code: 54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
            }
            guard record.expires > Sandbox.now else {
                return microsoftError(400, "invalid_grant", code: 70008, "The provided authorization code or refresh token has expired due to inactivity.")
            }
            guard f["redirect_uri"] == record.redirectURI else {
                return microsoftError(400, "invalid_grant", code: 50148, "The redirect_uri specified in the token request does not match the redirect_uri used when acquiring the authorization code.")
            }
            record.used = true
            s.codes[code] = record
            guard let a = s.accounts[record.key] else {
                return microsoftError(400, "invalid_grant", code: 70000, "The provided value for the 'code' parameter is not valid.")
            }
            account = a
        case "refresh_token":
            guard let token = f["refresh_token"], let record = s.refreshTokens[token], record.key.provider == .microsoft,
                let a = s.accounts[record.key]
            else {
                return microsoftError(400, "invalid_grant", code: 9002313, "Invalid request. Request is malformed or invalid.")
            }
            guard record.generation == a.refreshGeneration else {
                return microsoftError(400, "invalid_grant", code: 50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.")
            }
            guard !record.rotated else {
                return microsoftError(400, "invalid_grant", code: 700082, "The refresh token has expired due to inactivity. The token was issued on \(SandboxTime.formatWall(Sandbox.now - 1))Z and was inactive for 90.00:00:00.")
            }
            s.refreshTokens[token]?.rotated = true
            account = a
        default:
            return microsoftError(400, "unsupported_grant_type", code: 70003, "The app requested an unsupported grant type '\(grant)'.")
        }
        let (access, lifetime) = issueAccessToken(&s, account: account, scope: grantedScope)
        var answer = TokenAnswer(accessToken: access, expiresIn: lifetime, extExpiresIn: lifetime, scope: grantedScope)
        if offline || grant == "refresh_token" {
            answer.refreshToken = issueRefreshToken(&s, account: account, scope: grantedScope, clientID: clientID)
        }
        if scopes.contains("openid") {
            answer.idToken = idToken(email: account.email, audience: clientID, issuer: "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0")
        }
        return .encoded(200, answer)
    }
}
