/// How `calsync console` serves its page and guards its login.
package struct ConsoleConfiguration: Sendable {
    /// `CALSYNC_CONSOLE_HOST`: address to listen on; default `127.0.0.1` (loopback only).
    package var host: String
    /// `CALSYNC_CONSOLE_PORT`: port to listen on; default 8082.
    package var port: Int
    /// `CALSYNC_CONSOLE_PASSWORD_HASH`: bcrypt hash of the operators' password (`calsync console hash-password`);
    /// default none: the console refuses to start without it.
    package var passwordHash: String?
    /// `CALSYNC_CONSOLE_SESSION_HOURS`: how long a login lasts; default 8 h.
    package var sessionLifetime: Duration
    /// `CALSYNC_CONSOLE_LOGIN_ATTEMPTS_PER_MINUTE`: login attempts accepted per minute, all clients together; default 10.
    package var loginAttemptsPerMinute: Int
    /// `CALSYNC_CONSOLE_LOCKOUT_FAILURES`: consecutive wrong passwords that lock one operator name's login; default 5.
    package var lockoutFailures: Int
    /// `CALSYNC_CONSOLE_LOCKOUT_SECONDS`: how long the login stays locked; default 900 s.
    package var lockout: Duration
    /// `CALSYNC_CONSOLE_SECURE_COOKIES`: mark cookies `Secure` always (behind a TLS proxy that does not send
    /// `X-Forwarded-Proto: https`); default false (they are marked `Secure` whenever the request came over https).
    package var secureCookies: Bool
    /// `CALSYNC_CONSOLE_REFRESH_SECONDS`: how often the overview refreshes itself; default 5 s.
    package var refreshInterval: Duration
    /// Dead records per page; default 50.
    package var pageSize: Int

    /// Creates the documented defaults.
    package init() {
        self.host = "127.0.0.1"
        self.port = 8082
        self.passwordHash = nil
        self.sessionLifetime = .seconds(8 * 3600)
        self.loginAttemptsPerMinute = 10
        self.lockoutFailures = 5
        self.lockout = .seconds(900)
        self.secureCookies = false
        self.refreshInterval = .seconds(5)
        self.pageSize = 50
    }
}
