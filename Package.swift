// swift-tools-version: 6.1
// calsync: the worker that keeps a booking service's appointments and its staff's
// own calendars (Google, Microsoft) in step. See README.md for the map.
import PackageDescription

/// Every target: a member of a module is visible only where that module is imported, so each file's
/// imports (and each target's dependencies below) say exactly what it uses.
let swiftSettings: [SwiftSetting] = [.enableUpcomingFeature("MemberImportVisibility")]

let package = Package(
    name: "calsync",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "calsync", targets: ["calsync"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
    ],
    targets: [
        // hiredis, the C Redis client from Debian's libhiredis-dev.
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // libical 3, the C iCalendar library from Debian's libical-dev (parse, write, expand recurrences).
        .systemLibrary(
            name: "CLibical",
            pkgConfig: "libical",
            providers: [.apt(["libical-dev"])]
        ),
        // iCalendar over libical: safe parsing, busy occurrences with recurrences expanded, export rendering.
        .target(
            name: "CalsyncICal",
            dependencies: ["CLibical"],
            swiftSettings: swiftSettings
        ),
        // A small, blocking-off-the-pool Swift layer over hiredis; the client is a Service.
        .target(
            name: "CalsyncRedis",
            dependencies: [
                "CHiredis",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The job model: jobs, handlers, errors, locks, runs, retry policy, batcher, safe text, RFC 3339. No Redis.
        .target(
            name: "CalsyncJobs",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The job engine on Redis: envelopes, leases, retry, dead letters, the worker loop.
        .target(
            name: "CalsyncQueue",
            dependencies: [
                "CalsyncJobs", "CalsyncRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The domain rules of sync: provider and store protocols, rendering, busy rules, handlers. No driver.
        .target(
            name: "CalsyncSync",
            dependencies: [
                "CalsyncJobs",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        // The Redis adapters of the sync rules: rate limiter, locks, events, enqueuer, leader lease.
        .target(
            name: "CalsyncSyncRedis",
            dependencies: [
                "CalsyncJobs", "CalsyncQueue", "CalsyncRedis", "CalsyncSync",
            ],
            swiftSettings: swiftSettings
        ),
        // HTTP plumbing shared by the provider clients: bounded bodies, OAuth forms, error bodies.
        .target(
            name: "CalsyncHTTP",
            dependencies: [
                "CalsyncJobs",
                "CalsyncSync",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CalsyncGoogle",
            dependencies: [
                "CalsyncJobs", "CalsyncSync", "CalsyncHTTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CalsyncMicrosoft",
            dependencies: [
                "CalsyncJobs", "CalsyncSync", "CalsyncHTTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // CalDAV (RFC 4791/6578/6764): discovery, conditional object writes, window reads.
        .target(
            name: "CalsyncCalDAV",
            dependencies: [
                "CalsyncJobs", "CalsyncSync", "CalsyncHTTP", "CalsyncICal",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // PostgreSQL: migrations and the store behind CalsyncSync's protocols.
        .target(
            name: "CalsyncStore",
            dependencies: [
                "CalsyncJobs", "CalsyncSync",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // `calsync scheduler`: the leader's ticks that enqueue imports, resyncs, refreshes and replays.
        .target(
            name: "CalsyncScheduler",
            dependencies: [
                "CalsyncJobs",
                "CalsyncQueue", "CalsyncRedis", "CalsyncStore", "CalsyncSync", "CalsyncSyncRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Emulators of Google Calendar, Microsoft Graph and their token endpoints.
        .target(
            name: "CalsyncSandbox",
            dependencies: [
                "CalsyncICal",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `calsync webhooks`: the providers' push notifications, checked and turned into coalesced imports.
        .target(
            name: "CalsyncWebhooks",
            dependencies: [
                "CalsyncJobs", "CalsyncSync",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `calsync console`: the operators' web page (queues, workers, dead jobs, connections), behind a login.
        .target(
            name: "CalsyncConsole",
            dependencies: [
                "CalsyncJobs", "CalsyncQueue", "CalsyncRedis",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Configuration reading, wiring of services, observability, operator commands.
        .target(
            name: "CalsyncApp",
            dependencies: [
                "CalsyncJobs", "CalsyncQueue", "CalsyncSync", "CalsyncSyncRedis", "CalsyncScheduler", "CalsyncStore",
                "CalsyncGoogle", "CalsyncMicrosoft", "CalsyncHTTP", "CalsyncRedis", "CalsyncCalDAV", "CalsyncWebhooks", "CalsyncConsole",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The thin command-line front.
        .executableTarget(
            name: "calsync",
            dependencies: [
                "CalsyncApp", "CalsyncConsole", "CalsyncSandbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // `make bench`: drives the release binary against local servers and the sandbox (not part of calsync).
        .executableTarget(
            name: "CalsyncBench",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                "CalsyncTestSupport", "CalsyncJobs", "CalsyncQueue", "CalsyncRedis", "CalsyncStore", "CalsyncSync",
                "CalsyncSandbox", "CalsyncConsole",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOHTTPCompression", package: "swift-nio-extras"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CalsyncTestSupport",
            dependencies: [
                "CalsyncRedis",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/CalsyncTestSupport",
            swiftSettings: swiftSettings
        ),
        // The job model, in process (no servers).
        .testTarget(
            name: "CalsyncJobsTests",
            dependencies: ["CalsyncJobs"],
            swiftSettings: swiftSettings
        ),
        // Engine tests against a real Redis.
        .testTarget(
            name: "CalsyncQueueTests",
            dependencies: [
                "CalsyncTestSupport", "CalsyncJobs", "CalsyncRedis", "CalsyncQueue",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Store and configuration tests against a real PostgreSQL.
        .testTarget(
            name: "CalsyncStoreTests",
            dependencies: [
                "CalsyncHTTP",
                "CalsyncTestSupport", "CalsyncJobs", "CalsyncStore", "CalsyncApp", "CalsyncSync", "CalsyncSyncRedis",
                "CalsyncScheduler", "CalsyncQueue", "CalsyncRedis", "CalsyncSyncTesting", "CalsyncGoogle", "CalsyncMicrosoft",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Provider clients against the sandbox.
        .testTarget(
            name: "CalsyncProviderTests",
            dependencies: [
                "CalsyncTestSupport", "CalsyncSync", "CalsyncHTTP", "CalsyncGoogle", "CalsyncMicrosoft", "CalsyncSandbox",
                "CalsyncCalDAV",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Domain rules, job payloads and their JSON Schemas.
        .testTarget(
            name: "CalsyncSyncTests",
            dependencies: ["CalsyncTestSupport", "CalsyncJobs", "CalsyncSync", "CalsyncSyncTesting", "CalsyncQueue", "CalsyncRedis"],
            swiftSettings: swiftSettings
        ),
        // iCalendar parsing, recurrence expansion and rendering, in process.
        .testTarget(
            name: "CalsyncICalTests",
            dependencies: ["CalsyncICal"],
            swiftSettings: swiftSettings
        ),
        // The real `calsync` binary, spawned: crash, shutdown, several processes, restarts.
        .testTarget(
            name: "CalsyncEndToEndTests",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                "CalsyncTestSupport", "CalsyncJobs", "CalsyncRedis", "CalsyncQueue", "CalsyncSync", "CalsyncStore",
                "CalsyncSandbox",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // Push: the webhooks' checks and routes in process, the Redis coalescing and the Postgres channel store.
        .testTarget(
            name: "CalsyncPushTests",
            dependencies: [
                "CalsyncTestSupport", "CalsyncJobs", "CalsyncSync", "CalsyncSyncTesting", "CalsyncWebhooks", "CalsyncRedis",
                "CalsyncQueue", "CalsyncSyncRedis",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The console: in process (HummingbirdTesting) and in a real headless Chromium over WebDriver.
        .testTarget(
            name: "CalsyncConsoleTests",
            dependencies: [
                "CalsyncTestSupport", "CalsyncConsole", "CalsyncJobs", "CalsyncQueue", "CalsyncRedis", "CalsyncStore",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // In-memory doubles of the sync protocols (store, provider, locks, enqueuer, publisher, rate limiter)
        // and a rig that runs the handlers over them: every sync rule tested in process, in milliseconds.
        .target(
            name: "CalsyncSyncTesting",
            dependencies: [
                "CalsyncSync", "CalsyncJobs",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/CalsyncSyncTesting",
            swiftSettings: swiftSettings
        ),
    ]
)
