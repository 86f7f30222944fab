import Foundation
import PostgresNIO

/// Where and how to reach PostgreSQL, parsed from a `postgres://` URL.
package struct DatabaseConfiguration: Sendable, Equatable {
    /// How the connection uses TLS (the URL's `sslmode`).
    package enum SSLMode: String, Sendable, Equatable {
        /// Plain TCP.
        case disable
        /// TLS, without verifying the server's certificate.
        case require
        /// TLS, verifying the certificate chain and the host name.
        case verifyFull = "verify-full"
    }

    /// Host name or address; default `127.0.0.1`.
    package var host: String
    /// TCP port; default 5432.
    package var port: Int
    /// User name; default `calsync`.
    package var username: String
    /// Password; default none (trust or peer auth).
    package var password: String?
    /// Database name; default `calsync`.
    package var database: String
    /// TLS mode; default `disable` (the URL's `sslmode`; `prefer`/`allow` are read as `disable`).
    package var sslMode: SSLMode
    /// The schema to use (`search_path`), when not the server's default; tests isolate themselves with it.
    package var schema: String?
    /// How long the start-up connectivity check may take; default 5 s.
    package var connectTimeout: Duration
    /// Most connections the pool opens; default 20.
    package var maximumConnections: Int
    /// Limits the server enforces on every connection calsync opens; default 30 s / 10 s / 60 s.
    package var timeouts: Timeouts
    /// Keep every connection open (the pool opens `maximumConnections` at start and never times them out)
    /// and send no keep-alive queries; default false. The worker sets it: postgres-nio's pool starts an
    /// idle and a keep-alive timer (sleeping tasks) each time a connection goes idle, and a cancelled sleep
    /// holds its memory until its deadline, so a busy worker held ~0.5 KB per query of the last minute
    /// (`make bench`). A connection the server closes is still noticed at once and reopened.
    package var persistentConnections: Bool

    /// Creates a configuration from its parts (defaults: calsync@127.0.0.1:5432/calsync, no TLS).
    package init(
        host: String = "127.0.0.1", port: Int = 5432, username: String = "calsync", password: String? = nil,
        database: String = "calsync", sslMode: SSLMode = .disable, schema: String? = nil
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.sslMode = sslMode
        self.schema = schema
        self.connectTimeout = .seconds(5)
        self.maximumConnections = 20
        self.timeouts = Timeouts()
        self.persistentConnections = false
    }

    /// Server-side limits, sent as start-up parameters of every connection (no extra round trip), so
    /// that one hung statement cannot stall a process: it fails, and its job is retried.
    package struct Timeouts: Sendable, Equatable {
        /// `statement_timeout`: longest one statement may run (`.zero`: no limit); default 30 s.
        package var statement: Duration
        /// `lock_timeout`: longest a statement waits for a lock (a row another session holds; `.zero`: no limit); default 10 s.
        package var lock: Duration
        /// `idle_in_transaction_session_timeout`: longest a transaction may sit idle before the server ends
        /// its session (`.zero`: no limit); default 60 s.
        package var idleInTransaction: Duration

        /// Creates limits (the defaults: 30 s, 10 s, 60 s).
        package init(statement: Duration = .seconds(30), lock: Duration = .seconds(10), idleInTransaction: Duration = .seconds(60)) {
            self.statement = statement
            self.lock = lock
            self.idleInTransaction = idleInTransaction
        }

        /// What `calsync migrate` uses: no statement limit (an index build on a big table takes its time),
        /// locks waited for at most 60 s (it never queues for ever behind a long transaction with every
        /// worker queued behind it), idle transactions ended after 10 minutes.
        package static let migration = Timeouts(statement: .zero, lock: .seconds(60), idleInTransaction: .seconds(600))

        /// The start-up parameters that set them (milliseconds; 0 is no limit).
        var startupParameters: [(String, String)] {
            [
                ("statement_timeout", String(Self.milliseconds(statement))),
                ("lock_timeout", String(Self.milliseconds(lock))),
                ("idle_in_transaction_session_timeout", String(Self.milliseconds(idleInTransaction))),
            ]
        }

        /// Whole milliseconds, rounded up so that a positive limit never becomes "none".
        static func milliseconds(_ duration: Duration) -> Int64 {
            let (seconds, attoseconds) = duration.components
            guard seconds > 0 || attoseconds > 0 else { return 0 }
            return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        }
    }

    /// The start-up parameters of every connection: the timeouts and, when set, the schema.
    func startupParameters(timeouts: Timeouts? = nil) -> [(String, String)] {
        var parameters = (timeouts ?? self.timeouts).startupParameters
        if let schema { parameters.append(("search_path", schema)) }
        return parameters
    }

    /// Parses `postgres://user[:password]@host:port/db[?sslmode=disable|require|verify-full]`.
    package init(url: String, schema: String? = nil) throws {
        self.init(schema: schema)
        func invalid(_ why: String) -> StoreError {
            .invalidURL(
                "malformed database URL (\(why)): set CALSYNC_DATABASE_URL to "
                    + "postgres://user[:password]@host:port/db[?sslmode=disable|require|verify-full], "
                    + "e.g. postgres://calsync@127.0.0.1:5432/calsync")
        }
        let lowered = url.lowercased()
        let prefix: String
        if lowered.hasPrefix("postgres://") {
            prefix = "postgres://"
        } else if lowered.hasPrefix("postgresql://") {
            prefix = "postgresql://"
        } else {
            throw invalid("it must start with postgres://")
        }
        var rest = Substring(url.dropFirst(prefix.count))
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let userPart: Substring
            if let colon = userInfo.firstIndex(of: ":") {
                userPart = userInfo[..<colon]
                let secret = String(userInfo[userInfo.index(after: colon)...])
                self.password = secret.isEmpty ? nil : (secret.removingPercentEncoding ?? secret)
            } else {
                userPart = userInfo
            }
            guard !userPart.isEmpty else { throw invalid("empty user name") }
            self.username = String(userPart).removingPercentEncoding ?? String(userPart)
        }
        var hostPart = rest
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else { throw invalid("unclosed [ in host") }
            self.host = String(hostPart[hostPart.index(after: hostPart.startIndex)..<close])
            hostPart = hostPart[hostPart.index(after: close)...]
            if hostPart.hasPrefix(":") {
                guard let port = Int(hostPart.dropFirst()), (1...65535).contains(port) else { throw invalid("bad port") }
                self.port = port
            } else if !hostPart.isEmpty {
                throw invalid("unexpected text after host")
            }
        } else {
            if let colon = hostPart.firstIndex(of: ":") {
                let portText = hostPart[hostPart.index(after: colon)...]
                guard let port = Int(portText), (1...65535).contains(port) else {
                    throw invalid("bad port '\(portText)'")
                }
                self.port = port
                hostPart = hostPart[..<colon]
            }
            if !hostPart.isEmpty { self.host = String(hostPart) }
        }
        if host.isEmpty || host.contains(where: { $0 == " " || $0 == "/" || $0 == "@" }) { throw invalid("bad host") }
        let dbText = path.hasSuffix("/") ? path.dropLast() : path
        if !dbText.isEmpty {
            guard !dbText.contains("/") else { throw invalid("bad database name '\(dbText)'") }
            self.database = String(dbText).removingPercentEncoding ?? String(dbText)
        }
        for pair in query.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            guard let first = parts.first, !first.isEmpty else { throw invalid("empty parameter name") }
            let key = first.lowercased()
            let value = parts.count > 1 ? (parts[1].removingPercentEncoding ?? parts[1]) : ""
            switch key {
            case "sslmode":
                switch value.lowercased() {
                case "disable", "allow", "prefer": self.sslMode = .disable
                case "require": self.sslMode = .require
                case "verify-full", "verify-ca": self.sslMode = .verifyFull
                default: throw invalid("sslmode must be disable, require or verify-full, not '\(value)'")
                }
            case "schema", "search_path":
                guard !value.isEmpty else { throw invalid("empty schema") }
                if self.schema == nil { self.schema = value }
            case "connect_timeout":
                guard let seconds = Int(value), seconds > 0 else { throw invalid("connect_timeout must be a positive number of seconds") }
                self.connectTimeout = .seconds(seconds)
            default:
                throw invalid("unknown parameter '\(key)'")
            }
        }
    }

    /// The URL with the password replaced by `***`: safe for logs and error messages.
    package var redactedURL: String {
        let auth = password == nil ? username : "\(username):***"
        let hostText = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(auth)@\(hostText):\(port)/\(database)?sslmode=\(sslMode.rawValue)"
    }

    /// The postgres-nio client configuration for these settings.
    package func clientConfiguration() -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case .disable:
            tls = .disable
        case .require:
            var tlsConfig = TLSConfiguration.makeClientConfiguration()
            tlsConfig.certificateVerification = .none
            tls = .require(tlsConfig)
        case .verifyFull:
            tls = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.connectTimeout = connectTimeout
        configuration.options.maximumConnections = maximumConnections
        if persistentConnections {
            configuration.options.minimumConnections = maximumConnections
            configuration.options.keepAliveBehavior = nil
        }
        configuration.options.additionalStartupParameters = startupParameters()
        return configuration
    }
}
