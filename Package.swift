// swift-tools-version:6.1
import PackageDescription

/// Pure modules (config, header rules, routing) depend on Foundation only, so their
/// tests build fast; NIO is confined to the data plane and the dev tools.
let package = Package(
    name: "Portcullis",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "portcullis", targets: ["portcullis"]),
        .library(name: "PortcullisCore", targets: ["PortcullisCore"]),
        .library(name: "PortcullisProxy", targets: ["PortcullisProxy"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // OTLP over HTTP only: the gRPC exporter (and gRPC's build) is left out.
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // bcrypt only (HummingbirdBcrypt and its C core); nothing of the Hummingbird framework is built.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
    ],
    targets: [
        .target(
            name: "PortcullisCore",
            dependencies: []
        ),
        // Sealing, PKCE, ID-token validation, client assertions: pure logic over swift-crypto
        // and jwt-kit, no I/O.
        .target(
            name: "PortcullisAuth",
            dependencies: [
                "PortcullisCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "X509", package: "swift-certificates"),
            ]
        ),
        // Outbound OpenID Connect: discovery, JWKS cache, code exchange, Microsoft Graph.
        .target(
            name: "PortcullisOIDC",
            dependencies: [
                "PortcullisCore",
                "PortcullisAuth",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // An Entra-shaped OpenID provider for demos and tests; never for production.
        .target(
            name: "PortcullisDevIdP",
            dependencies: [
                "PortcullisCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        // Sessions: the model, the in-process cache (also the `memory` store), the store
        // protocol and the at-rest encoding. No I/O.
        .target(
            name: "PortcullisSessions",
            dependencies: ["PortcullisCore", "PortcullisAuth"]
        ),
        // The shared `postgres` session store (postgres-nio): table, sweeping, LISTEN/NOTIFY.
        .target(
            name: "PortcullisPostgres",
            dependencies: [
                "PortcullisCore",
                "PortcullisAuth",
                "PortcullisSessions",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The data plane (SwiftNIO) and the gateway's endpoints; it receives its session
        // store and HTTP client built by the composition root (the executable).
        .target(
            name: "PortcullisProxy",
            dependencies: [
                "PortcullisCore",
                "PortcullisAuth",
                "PortcullisSessions",
                "PortcullisOIDC",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ]
        ),
        // Optional OpenTelemetry tracing (`tracing`): builds the OTLP/HTTP tracer the data plane
        // is handed. Only the composition roots (the executable, tests) depend on it.
        .target(
            name: "PortcullisTelemetry",
            dependencies: [
                "PortcullisCore",
                .product(name: "OTel", package: "swift-otel"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "PortcullisEcho",
            dependencies: [
                "PortcullisCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // The CLI and the composition root: builds the store and the HTTP client, runs the
        // services under a ServiceGroup (signals, reload, drain).
        .executableTarget(
            name: "portcullis",
            dependencies: [
                "PortcullisCore",
                "PortcullisAuth",
                "PortcullisProxy",
                "PortcullisSessions",
                "PortcullisPostgres",
                "PortcullisEcho",
                "PortcullisDevIdP",
                "PortcullisTelemetry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ]
        ),
        .testTarget(
            name: "PortcullisCoreTests",
            dependencies: ["PortcullisCore"]
        ),
        .testTarget(
            name: "PortcullisAuthTests",
            dependencies: [
                "PortcullisCore",
                "PortcullisAuth",
                "PortcullisTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        // Benchmark: memory cost of live sessions in the memory store (bench/session-memory.sh).
        .executableTarget(
            name: "SessionMemoryBench",
            dependencies: ["PortcullisCore", "PortcullisSessions"],
            path: "bench/SessionMemoryBench"
        ),
        // Benchmark: what signing an identity assertion costs on a cache miss (bench/assertion.sh).
        .executableTarget(
            name: "AssertionBench",
            dependencies: ["PortcullisCore", "PortcullisAuth"],
            path: "bench/AssertionBench"
        ),
        // Test-only helpers shared by test targets (a throwaway PostgreSQL server); never
        // linked into the executable.
        .target(
            name: "PortcullisTestSupport",
            dependencies: [.product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "PortcullisSessionsTests",
            dependencies: [
                "PortcullisCore", "PortcullisAuth", "PortcullisSessions", "PortcullisPostgres", "PortcullisTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "PortcullisDevIdPTests",
            dependencies: [
                "PortcullisCore",
                "PortcullisDevIdP",
                "PortcullisTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
            ]
        ),
        .testTarget(
            name: "PortcullisProxyTests",
            dependencies: [
                "PortcullisCore",
                "PortcullisAuth",
                "PortcullisProxy",
                "PortcullisSessions",
                "PortcullisPostgres",
                "PortcullisTestSupport",
                "PortcullisEcho",
                "PortcullisDevIdP",
                "PortcullisTelemetry",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHPACK", package: "swift-nio-http2"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
