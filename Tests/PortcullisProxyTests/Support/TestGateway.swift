import Foundation
import Logging
import NIOCore
import NIOPosix
import PortcullisCore
import PortcullisEcho
import PortcullisProxy

/// An echo upstream and a gateway in front of it, both on ephemeral loopback ports.
struct TestGateway {
    let echo: EchoUpstream
    let server: GatewayServer
    var port: Int { server.localAddress.port! }

    /// Starts both; `routes` is the JSON of the routes array with `ECHO` standing for the
    /// echo upstream's URL.
    static func start(
        routes: String = #"[{ "name": "app", "upstream": "ECHO", "public": true }]"#, extra: String = "",
        logging: String = #"{ "accessLog": false }"#, accessLogSink: LineSink = .standardOutput
    ) async throws -> TestGateway {
        let echo = try await EchoUpstream.start(port: 0, group: MultiThreadedEventLoopGroup.singleton)
        let json = """
            { "listen": { "port": 0 }, "logging": \(logging),
              "routes": \(routes.replacingOccurrences(of: "ECHO", with: "http://127.0.0.1:\(echo.port)"))\(extra) }
            """
        let config = try GatewayConfig.load(Data(json.utf8))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = try await GatewayServer.start(
            runtime: GatewayRuntime(config: config), group: MultiThreadedEventLoopGroup.singleton,
            accessLogSink: accessLogSink, logger: logger)
        return TestGateway(echo: echo, server: server)
    }

    func client(keepBody: Bool = true) async throws -> TestHTTPClient {
        try await TestHTTPClient.connect(port: port, keepBody: keepBody)
    }

    func stop() async {
        await server.close()
        await echo.close()
    }
}

/// A port nothing listens on (bound, then released).
func closedPort() throws -> Int {
    let channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).wait()
    let port = channel.localAddress!.port!
    try channel.close().wait()
    return port
}

/// Current resident set size of this process, from /proc.
func residentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kilobytes = line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return kilobytes * 1024
    }
    return 0
}

/// Polls `condition` until it holds or `seconds` pass.
func eventually(within seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}
