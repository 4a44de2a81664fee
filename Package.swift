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
    ],
    targets: [
        .target(
            name: "PortcullisCore",
            dependencies: []
        ),
        .target(
            name: "PortcullisProxy",
            dependencies: [
                "PortcullisCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
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
        .executableTarget(
            name: "portcullis",
            dependencies: [
                "PortcullisCore",
                "PortcullisProxy",
                "PortcullisEcho",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "PortcullisCoreTests",
            dependencies: ["PortcullisCore"]
        ),
        .testTarget(
            name: "PortcullisProxyTests",
            dependencies: [
                "PortcullisCore",
                "PortcullisProxy",
                "PortcullisEcho",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
