import CalsyncStore
import PostgresNIO
import Testing

@Suite("DatabaseConfiguration URL parsing")
struct DatabaseConfigurationTests {
    @Test("a full URL gives every part")
    func fullURL() throws {
        let config = try DatabaseConfiguration(url: "postgres://app:s%40cret@db.internal:6543/booking?sslmode=require")
        #expect(config.username == "app")
        #expect(config.password == "s@cret")
        #expect(config.host == "db.internal")
        #expect(config.port == 6543)
        #expect(config.database == "booking")
        #expect(config.sslMode == .require)
        #expect(config.schema == nil)
    }

    @Test("defaults fill what the URL leaves out")
    func defaults() throws {
        let config = try DatabaseConfiguration(url: "postgres://calsync@127.0.0.1")
        #expect(config.port == 5432)
        #expect(config.database == "calsync")
        #expect(config.password == nil)
        #expect(config.sslMode == .disable)
    }

    @Test("sslmode verify-full, postgresql scheme, IPv6 host, explicit schema")
    func variants() throws {
        let config = try DatabaseConfiguration(
            url: "postgresql://u@[::1]:5433/d?sslmode=verify-full", schema: "tenant_a")
        #expect(config.host == "::1")
        #expect(config.port == 5433)
        #expect(config.sslMode == .verifyFull)
        #expect(config.schema == "tenant_a")
    }

    @Test("the redacted URL never shows the password")
    func redacted() throws {
        let config = try DatabaseConfiguration(url: "postgres://app:hunter2@h:1/d")
        #expect(!config.redactedURL.contains("hunter2"))
        #expect(config.redactedURL.contains("app:***@h:1/d"))
    }

    @Test(
        "malformed URLs are refused with invalid_url",
        arguments: [
            "mysql://u@h/d", "postgres://u@h:notaport/d", "postgres://u@h:70000/d", "postgres://u@h/d?sslmode=maybe",
            "postgres://@h/d", "postgres://u@h/d/extra", "postgres://u@h/d?unknown=1", "postgres://u@h/d?=", "postgres://u@h/d?=x", "",
        ])
    func malformed(url: String) {
        #expect {
            try DatabaseConfiguration(url: url)
        } throws: { error in
            (error as? StoreError)?.code == .invalidUrl
        }
    }
}

@Suite("DatabaseConfiguration pool settings")
struct DatabasePoolSettingsTests {
    @Test("a worker's pool keeps every connection open and starts no keep-alive timers")
    func persistentConnections() throws {
        var config = try DatabaseConfiguration(url: "postgres://calsync@127.0.0.1:5432/calsync")
        config.maximumConnections = 7
        let lazy = config.clientConfiguration()
        #expect(lazy.options.minimumConnections == 0)
        #expect(lazy.options.keepAliveBehavior != nil)
        config.persistentConnections = true
        let kept = config.clientConfiguration()
        #expect(kept.options.minimumConnections == 7 && kept.options.maximumConnections == 7)
        #expect(kept.options.keepAliveBehavior == nil)
    }
}
