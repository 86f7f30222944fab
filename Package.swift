// swift-tools-version: 6.1
// calsync: the worker that keeps a booking service's appointments and its staff's
// own calendars (Google, Microsoft) in step. See README.md for the map.
import PackageDescription

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
    ],
    targets: [
        // hiredis, the C Redis client from Debian's libhiredis-dev.
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // A small, blocking-off-the-pool Swift layer over hiredis.
        .target(
            name: "CalsyncRedis",
            dependencies: [
                "CHiredis",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The job engine: envelopes, leases, retry, dead letters, the worker loop.
        .target(
            name: "CalsyncQueue",
            dependencies: [
                "CalsyncRedis",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The domain rules of sync: provider and store protocols, rendering, busy rules, handlers.
        .target(
            name: "CalsyncSync",
            dependencies: [
                "CalsyncQueue",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // HTTP plumbing shared by the provider clients: bounded bodies, OAuth forms, error bodies.
        .target(
            name: "CalsyncHTTP",
            dependencies: [
                "CalsyncSync",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CalsyncGoogle",
            dependencies: [
                "CalsyncSync", "CalsyncHTTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "CalsyncMicrosoft",
            dependencies: [
                "CalsyncSync", "CalsyncHTTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // PostgreSQL: migrations and the store behind CalsyncSync's protocols.
        .target(
            name: "CalsyncStore",
            dependencies: [
                "CalsyncQueue", "CalsyncSync",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Emulators of Google Calendar, Microsoft Graph and their token endpoints.
        .target(
            name: "CalsyncSandbox",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Configuration, wiring of services, observability.
        .target(
            name: "CalsyncApp",
            dependencies: [
                "CalsyncQueue", "CalsyncSync", "CalsyncStore", "CalsyncGoogle", "CalsyncMicrosoft",
                "CalsyncHTTP", "CalsyncRedis", "CalsyncSandbox",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // The thin command-line front.
        .executableTarget(
            name: "calsync",
            dependencies: [
                "CalsyncApp", "CalsyncSandbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `make bench`: drives the release binary against local servers and the sandbox (not part of calsync).
        .executableTarget(
            name: "CalsyncBench",
            dependencies: [
                "CalsyncTestSupport", "CalsyncQueue", "CalsyncRedis", "CalsyncStore", "CalsyncSync", "CalsyncSandbox",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .target(
            name: "CalsyncTestSupport",
            dependencies: [
                "CalsyncRedis",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/CalsyncTestSupport"
        ),
        // Engine tests against a real Redis.
        .testTarget(name: "CalsyncQueueTests", dependencies: ["CalsyncTestSupport", "CalsyncRedis", "CalsyncQueue"]),
        // Store and configuration tests against a real PostgreSQL.
        .testTarget(name: "CalsyncStoreTests", dependencies: [
            "CalsyncTestSupport", "CalsyncStore", "CalsyncApp", "CalsyncSync",
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
        // Provider clients against the sandbox.
        .testTarget(name: "CalsyncProviderTests", dependencies: [
            "CalsyncTestSupport", "CalsyncSync", "CalsyncHTTP", "CalsyncGoogle", "CalsyncMicrosoft", "CalsyncSandbox",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        // Domain rules, job payloads and their JSON Schemas.
        .testTarget(name: "CalsyncSyncTests", dependencies: ["CalsyncTestSupport", "CalsyncSync", "CalsyncQueue"]),
        // The real `calsync` binary, spawned: crash, shutdown, several processes, restarts.
        .testTarget(name: "CalsyncEndToEndTests", dependencies: [
            "CalsyncTestSupport", "CalsyncRedis", "CalsyncQueue", "CalsyncSync", "CalsyncStore", "CalsyncSandbox",
            .product(name: "PostgresNIO", package: "postgres-nio"),
        ]),
    ]
)
