import Foundation
import Logging
import NIOCore
import NIOPosix
import PortcullisCore
import PortcullisEcho
import PortcullisPostgres
@testable import PortcullisProxy
import PortcullisTestSupport
import Tracing

/// A gateway started as the executable starts one (services from a composition, the session
/// store's background work running), for live tests; ``stop()`` ends all of it.
final class LiveGateway: Sendable {
    let gateway: Gateway
    private let background: Task<Void, Never>

    var server: GatewayServer { gateway.server }
    var gate: SessionGate { gateway.services.gate }
    var port: Int { gateway.localAddress.port! }

    private init(gateway: Gateway) {
        self.gateway = gateway
        let services = gateway.services
        background = Task { await services.run() }
    }

    /// - Parameters: `audit` receives the audit log; `clock` replaces the wall clock of
    ///   sessions and token checks.
    static func start(
        _ config: GatewayConfig, audit: CapturedLog? = nil, clock: TestClock? = nil, accessLogSink: LineSink = .standardOutput,
        tracer: (any Tracer)? = nil
    ) async throws -> LiveGateway {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let auditLogger = (audit ?? CapturedLog()).logger(label: GatewayServices.auditLabel)
        let now: @Sendable () -> Date
        if let clock { now = { clock.now() } } else { now = { Date() } }
        let store = try PostgresSessionStore.configured(by: config.session, logger: logger)
        let services = GatewayServices(
            session: config.session, store: store, oidcClient: GatewayServices.makeOIDCClient(timeout: config.entra?.requestTimeout ?? 10),
            audit: auditLogger, logger: logger, now: now, tracer: tracer)
        do {
            return LiveGateway(gateway: try await Gateway.start(config: config, services: services, accessLogSink: accessLogSink, logger: logger))
        } catch {
            await services.shutdown()
            throw error
        }
    }

    func stop() async {
        background.cancel()
        await gateway.close()
        await background.value
        await gateway.services.shutdown()
    }
}

/// An echo upstream and a gateway in front of it, both on ephemeral loopback ports.
struct TestGateway {
    let echo: EchoUpstream
    let live: LiveGateway
    var server: GatewayServer { live.server }
    var gateway: Gateway { live.gateway }
    var port: Int { live.port }

    /// `routes` is the JSON of the routes array with `ECHO` standing for the echo upstream's URL.
    static func config(routes: String, extra: String, logging: String, echoPort: Int) throws -> GatewayConfig {
        let json = """
            { "listen": { "port": 0 }, "logging": \(logging),
              "routes": \(routes.replacingOccurrences(of: "ECHO", with: "http://127.0.0.1:\(echoPort)"))\(extra) }
            """
        return try GatewayConfig.load(Data(json.utf8))
    }

    /// Starts both; `routes` is the JSON of the routes array with `ECHO` standing for the
    /// echo upstream's URL.
    static func start(
        routes: String = #"[{ "name": "app", "upstream": "ECHO", "public": true }]"#, extra: String = "",
        logging: String = #"{ "accessLog": false }"#, accessLogSink: LineSink = .standardOutput
    ) async throws -> TestGateway {
        let echo = try await EchoUpstream.start(port: 0, group: MultiThreadedEventLoopGroup.singleton)
        do {
            let config = try config(routes: routes, extra: extra, logging: logging, echoPort: echo.port)
            return TestGateway(echo: echo, live: try await LiveGateway.start(config, accessLogSink: accessLogSink))
        } catch {
            await echo.close()
            throw error
        }
    }

    /// Starts a gateway, runs `body` with it and stops it whatever `body` does: no test leaks
    /// a server or races its teardown.
    static func with<T>(
        routes: String = #"[{ "name": "app", "upstream": "ECHO", "public": true }]"#, extra: String = "",
        logging: String = #"{ "accessLog": false }"#, accessLogSink: LineSink = .standardOutput, _ body: (TestGateway) async throws -> T
    ) async throws -> T {
        try await scoped(
            try await start(routes: routes, extra: extra, logging: logging, accessLogSink: accessLogSink), stop: { await $0.stop() }, body)
    }

    func client(keepBody: Bool = true) async throws -> TestHTTPClient {
        try await TestHTTPClient.connect(port: port, keepBody: keepBody)
    }

    func stop() async {
        await live.stop()
        await echo.close()
    }
}

extension EchoUpstream {
    /// Starts an echo upstream on an ephemeral loopback port, runs `body` with it and closes
    /// it whatever `body` does.
    static func with<T>(_ body: (EchoUpstream) async throws -> T) async throws -> T {
        try await scoped(try await start(port: 0, group: MultiThreadedEventLoopGroup.singleton), stop: { await $0.close() }, body)
    }
}

/// A runtime for unit tests of the data plane's pure parts (no sockets, no sign-in).
enum TestRuntime {
    /// One set of services for every such runtime; its HTTP client is never used.
    static let services = GatewayServices(
        session: try! GatewayConfig.load(Data(#"{ "routes": [{ "name": "a", "upstream": "http://127.0.0.1:1", "public": true }] }"#.utf8)).session,
        store: nil, oidcClient: GatewayServices.makeOIDCClient(), logger: Logger(label: "test"))

    static func make(_ json: String) -> GatewayRuntime {
        GatewayRuntime(config: try! GatewayConfig.load(Data(json.utf8)), services: services, signInMethods: [], revalidators: [:])
    }
}

/// A port nothing listens on now, for a server that must know its port before it starts
/// (nginx's config, a redirect URI). Chosen at random below the kernel's ephemeral range and
/// checked by binding it: a port from that range (bind to port 0, once released) could be
/// handed to another test's server or outgoing connection before ours binds it, and then our
/// requests reach the other test's server. Below the range only another call of this picks.
func closedPort() throws -> Int {
    let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))?
        .split(whereSeparator: \.isWhitespace).compactMap { Int($0) }
    let ephemeralStart = range?.first ?? 32768
    let low = 20000, high = max(low + 1000, ephemeralStart)
    for _ in 0..<50 {
        let port = Int.random(in: low..<high)
        guard let channel = try? ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: port).wait()
        else { continue }
        try channel.close().wait()
        return port
    }
    throw POSIXError(.EADDRINUSE)
}

/// A port that refuses connections for the rest of the test run: bound but never listening,
/// so no other test's server can take it meanwhile (as it can a port ``closedPort()`` gave up).
func refusingPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard fd >= 0, bound else { throw POSIXError(.EADDRNOTAVAIL) }
    return Int(UInt16(bigEndian: address.sin_port))  // the descriptor stays open on purpose
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
