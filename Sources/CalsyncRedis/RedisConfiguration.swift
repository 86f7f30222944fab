/// Where and how to reach Redis.
package struct RedisConfiguration: Sendable {
    /// Host name or address; default `127.0.0.1`.
    package var host: String
    /// TCP port; default 6379.
    package var port: Int
    /// ACL user name for `AUTH user password` (Redis 6+); default none (`AUTH password`, the `default` user).
    package var username: String?
    /// Password for AUTH; default none.
    package var password: String?
    /// Database number for SELECT; default 0.
    package var database: Int
    /// How long a connection attempt may take; default 2 s.
    package var connectTimeout: Duration
    /// Socket timeout for one command (send and reply); default 5 s.
    package var commandTimeout: Duration

    /// Creates a configuration from its parts (defaults: 127.0.0.1:6379, db 0, no password).
    package init(host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = .seconds(2)
        self.commandTimeout = .seconds(5)
    }

    /// Parses `redis://[[user]:password@]host[:port][/db]` (a user name sends `AUTH user password`);
    /// throws `invalid_url` when malformed.
    package init(url: String) throws {
        self.init()
        func invalid(_ why: String) -> RedisError {
            .invalidURL("malformed Redis URL (\(why)): set CALSYNC_REDIS_URL to redis://[[user]:password@]host:port/db, e.g. redis://127.0.0.1:6379/0")
        }
        let scheme = "redis://"
        guard url.lowercased().hasPrefix(scheme) else { throw invalid("it must start with redis://") }
        var rest = Substring(url.dropFirst(scheme.count))
        // Drop a query or fragment: nothing there is understood.
        if let cut = rest.firstIndex(where: { $0 == "?" || $0 == "#" }) { rest = rest[..<cut] }
        var path: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            path = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                let user = String(userInfo[..<colon])
                let secret = String(userInfo[userInfo.index(after: colon)...])
                self.password = secret.isEmpty ? nil : (secret.removingPercentEncodingIfPossible)
                // `user:password@` authenticates as that ACL user; a user without a password means nothing to AUTH.
                if !user.isEmpty, password != nil { self.username = user.removingPercentEncodingIfPossible }
            } else if !userInfo.isEmpty {
                // `redis://password@host` is a common shorthand; treat the lone part as the password.
                self.password = String(userInfo).removingPercentEncodingIfPossible
            }
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
                guard let port = Int(portText), (1...65535).contains(port) else { throw invalid("bad port '\(portText)'") }
                self.port = port
                hostPart = hostPart[..<colon]
            }
            if !hostPart.isEmpty { self.host = String(hostPart) }
        }
        if host.contains(where: { $0 == " " || $0 == "/" }) { throw invalid("bad host") }
        let dbText = path.hasSuffix("/") ? path.dropLast() : path
        if !dbText.isEmpty {
            guard let db = Int(dbText), db >= 0 else { throw invalid("bad database number '\(dbText)'") }
            self.database = db
        }
    }
}

extension String {
    /// Decodes %XX escapes (for passwords in URLs); returns self when there is nothing valid to decode.
    fileprivate var removingPercentEncodingIfPossible: String {
        guard contains("%") else { return self }
        var bytes: [UInt8] = []
        var iterator = Array(utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%"), iterator.count >= 2,
                let value = UInt8(String(decoding: iterator.prefix(2), as: UTF8.self), radix: 16)
            {
                bytes.append(value)
                iterator = iterator.dropFirst(2)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
