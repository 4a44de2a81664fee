import Logging
import NIOCore
import NIOPosix
import PortcullisAuth
import PortcullisCore
import Synchronization

/// A running gateway: the process-long services, the current per-config runtime on every
/// event loop, and the listener. ``reload(_:)`` swaps the runtime without touching
/// sessions, pooled connections or open clients; ``drain(timeout:)`` stops gracefully.
public final class Gateway: Sendable {
    public let services: GatewayServices
    public let server: GatewayServer
    /// The plain-HTTP listener that redirects to HTTPS (`listen.httpRedirect`), if any.
    public let redirectListener: HTTPSRedirectListener?
    let loops: GatewayLoops
    private let current: Mutex<GatewayRuntime>
    let logger: Logger

    private init(
        services: GatewayServices, server: GatewayServer, redirectListener: HTTPSRedirectListener?, loops: GatewayLoops, runtime: GatewayRuntime,
        logger: Logger
    ) {
        self.services = services
        self.server = server
        self.redirectListener = redirectListener
        self.loops = loops
        self.current = Mutex(runtime)
        self.logger = logger
    }

    /// Builds the runtime for `config` (failing on an unusable credential), binds the
    /// listener and starts serving on `group`.
    public static func start(
        config: GatewayConfig, services: GatewayServices, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        threadPool: NIOThreadPool = .singleton, accessLogSink: LineSink = .standardOutput, logger: Logger
    ) async throws -> Gateway {
        let runtime = try await GatewayRuntime.make(config: config, services: services)
        services.gate.sessions.sharedStore?.useKeys(runtime.sessionRules.keyRing)
        let loops = GatewayLoops(group: group, runtime: runtime)
        let accessLog =
            config.logging.accessLog
            ? AccessLog(format: LineLogHandler.Format(rawValue: config.logging.format) ?? .text, sink: accessLogSink) : nil
        let server = try await GatewayServer.start(
            config: config, loops: loops, group: group, threadPool: threadPool, accessLog: accessLog, logger: logger)
        let redirectListener: HTTPSRedirectListener?
        do {
            redirectListener = try await HTTPSRedirectListener.start(config: config, loops: loops, group: group)
        } catch {
            await server.close()
            throw error
        }
        return Gateway(services: services, server: server, redirectListener: redirectListener, loops: loops, runtime: runtime, logger: logger)
    }

    public var localAddress: SocketAddress { server.localAddress }

    /// The metrics in the Prometheus text format (the admin listener's `/metrics`).
    public func scrapeMetrics() async -> String {
        await services.metrics.render(loops: loops, runtime: runtime, gate: services.gate)
    }

    /// Starts the admin listener `config.admin` asks for (nil when it is disabled).
    public func startAdminListener(group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> AdminServer? {
        let admin = config.admin
        guard admin.enabled else { return nil }
        return try await AdminServer.start(host: admin.listen.address, port: admin.listen.port, group: group) { [self] in await scrapeMetrics() }
    }
    public var runtime: GatewayRuntime { current.withLock { $0 } }
    public var config: GatewayConfig { runtime.config }

    /// What a reload did.
    public struct ReloadOutcome: Sendable {
        /// Settings that differ but need a restart (field paths); everything else applied.
        public var needsRestart: [String]
    }

    /// Applies a validated config: builds its runtime (a credential that cannot be loaded
    /// throws, and the running config stays) and hands it to every event loop for their next
    /// request, and its session keys to the shared store. Sessions, pooled upstream connections, open relays and keep-alive clients
    /// are untouched.
    public func reload(_ config: GatewayConfig) async throws -> ReloadOutcome {
        let runtime = try await GatewayRuntime.make(config: config, services: services)
        let previous = current.withLock { old in
            defer { old = runtime }
            return old
        }
        await loops.install(runtime)
        // The shared store seals refresh tokens with the same keys as the cookies.
        services.gate.sessions.sharedStore?.useKeys(runtime.sessionRules.keyRing)
        return ReloadOutcome(needsRestart: previous.config.restartOnlyChanges(to: config))
    }

    /// Graceful stop: no new connections; requests in flight finish for up to `timeout`
    /// (idle keep-alive connections close at once, busy ones after their response); then
    /// the listener's remaining connections and the pooled upstream connections close.
    @discardableResult
    public func drain(timeout: TimeAmount) async -> Bool {
        await redirectListener?.close()
        let finished = await server.drain(timeout: timeout)
        await loops.closeAll()
        return finished
    }

    /// Closes at once (tests, and a second stop signal).
    public func close() async {
        await redirectListener?.close()
        await server.close()
        await loops.closeAll()
    }
}
