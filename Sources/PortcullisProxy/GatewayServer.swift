import Logging
import NIOCore
import NIOExtras
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import NIOTLS
import PortcullisCore
import Synchronization

/// The listening socket: accepts client connections and gives each the data-plane pipeline,
/// up to `limits.maxConnections` at once. Draining (``GatewayServer/drain(timeout:)``) stops
/// accepting and asks every connection to finish its current response and close.
public final class GatewayServer: Sendable {
    public let localAddress: SocketAddress
    private let channel: Channel
    private let quiescing: ServerQuiescingHelper
    private let connections: ConnectionCount

    private init(channel: Channel, quiescing: ServerQuiescingHelper, connections: ConnectionCount) {
        self.channel = channel
        self.localAddress = channel.localAddress!
        self.quiescing = quiescing
        self.connections = connections
    }

    /// Binds `config.listen` and starts serving on `group`'s event loops with each loop's
    /// current runtime.
    static func start(
        config: GatewayConfig, loops: GatewayLoops, group: EventLoopGroup, threadPool: NIOThreadPool,
        accessLog: AccessLog?, logger: Logger
    ) async throws -> GatewayServer {
        let limits = decoderLimits(config.limits)
        let maxHeaderBytes = config.limits.maxHeaderBytes
        let quiescing = ServerQuiescingHelper(group: group)
        let connections = ConnectionCount(limit: config.limits.maxConnections)

        @Sendable func configureHTTP1(_ pipeline: ChannelPipeline.SynchronousOperations, loop: GatewayLoop) throws {
            // NIO's request decoder and one handler: see ClientConnectionHandler for why
            // encoding, pipelining, timers and parse errors all live there.
            try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: limits)))
            try pipeline.addHandler(ClientConnectionHandler(loop: loop, threadPool: threadPool, accessLog: accessLog, logger: logger))
        }
        /// HTTP/2: each stream runs the HTTP/1.1 data plane through ``HTTP2StreamAdapter`` on
        /// the connection's event loop, so streams share its upstream pool and runtime. The
        /// connection manager answers a drain with GOAWAY and closes once the streams are done.
        @Sendable func configureHTTP2(_ channel: Channel, loop: GatewayLoop) throws {
            let idle = loop.runtime.clientIdleTimeout
            let manager = NIOHTTP2ServerConnectionManagementHandler(
                eventLoop: channel.eventLoop, configuration: .init(maxIdleTime: idle, maxAge: nil, maxGraceTime: nil, keepalive: nil))
            var connection = NIOHTTP2Handler.ConnectionConfiguration()
            connection.initialSettings = [
                HTTP2Setting(parameter: .maxConcurrentStreams, value: GatewayServer.maxConcurrentStreams),
                HTTP2Setting(parameter: .maxHeaderListSize, value: maxHeaderBytes),
            ]
            let http2 = NIOHTTP2Handler(
                mode: .server, eventLoop: channel.eventLoop, connectionConfiguration: connection, streamConfiguration: .init(),
                streamDelegate: manager.http2StreamDelegate
            ) { stream in
                stream.eventLoop.makeCompletedFuture {
                    let loop = loops.loop(for: stream.eventLoop)
                    let pipeline = stream.pipeline.syncOperations
                    try pipeline.addHandler(HTTP2StreamAdapter(hopByHop: loop.runtime.headerRules))
                    try pipeline.addHandler(
                        ClientConnectionHandler(loop: loop, threadPool: threadPool, accessLog: accessLog, logger: logger, isHTTP2Stream: true))
                }
            }
            try channel.pipeline.syncOperations.addHandler(http2)
            try channel.pipeline.syncOperations.addHandler(manager)
        }

        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    guard connections.admit() else {
                        // Over the limit: a clear answer and a close, before this connection
                        // costs an upstream socket too.
                        try pipeline.addHandler(ConnectionRefusal())
                        return
                    }
                    connections.track(channel)
                    let loop = loops.loop(for: channel.eventLoop)
                    // TLS from the loop's current config: a renewed certificate serves new
                    // connections after a reload; open ones keep the one they began with.
                    guard let tls = loop.runtime.tlsContext else {
                        try configureHTTP1(pipeline, loop: loop)
                        return
                    }
                    try pipeline.addHandler(NIOSSLServerHandler(context: tls))
                    guard loop.runtime.offersHTTP2 else {
                        try configureHTTP1(pipeline, loop: loop)
                        return
                    }
                    // ALPN decides: h2, or HTTP/1.1 (asked for, or nothing asked).
                    try pipeline.addHandler(
                        ApplicationProtocolNegotiationHandler { result in
                            channel.eventLoop.makeCompletedFuture {
                                let pipeline = channel.pipeline.syncOperations
                                if case .negotiated("h2") = result {
                                    try configureHTTP2(channel, loop: loop)
                                } else {
                                    try configureHTTP1(pipeline, loop: loop)
                                }
                            }
                        })
                }
            }
        let channel = try await bootstrap.bind(host: config.listen.address, port: config.listen.port).get()
        return GatewayServer(channel: channel, quiescing: quiescing, connections: connections)
    }

    /// Streams one HTTP/2 connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS),
    /// as nginx's default `http2_max_concurrent_streams`.
    static let maxConcurrentStreams = 128

    /// NIO's request decoder limited to `limits.maxHeaderBytes` (larger heads get 431).
    static func decoderLimits(_ limits: LimitsConfig) -> NIOHTTPDecoderLimitConfiguration {
        var decoder = NIOHTTPDecoderLimitConfiguration()
        decoder.maxHeaderListSize = limits.maxHeaderBytes
        decoder.maxHeaderFieldSize = limits.maxHeaderBytes
        return decoder
    }

    /// Client connections open now.
    public var openConnections: Int { connections.current }

    /// Stops accepting, lets every connection finish the response it is on (idle keep-alive
    /// connections close at once, busy ones after their response, with `Connection: close`),
    /// and returns when all are closed or `timeout` passed (then the rest are closed).
    /// Returns whether everything finished in time.
    @discardableResult
    public func drain(timeout: TimeAmount) async -> Bool {
        let done = channel.eventLoop.makePromise(of: Void.self)
        quiescing.initiateShutdown(promise: done)
        let finished: Bool = await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await done.futureResult.get()) != nil }
            group.addTask {
                try? await Task.sleep(nanoseconds: UInt64(max(0, timeout.nanoseconds)))
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        if !finished { connections.closeAll() }
        return finished
    }

    /// Stops accepting at once and closes every connection (tests, and a second signal).
    public func close() async {
        try? await channel.close()
        connections.closeAll()
    }
}

/// Client connections open now, against `limits.maxConnections`. One atomic add per
/// connection, none per request. Also remembers the channels, so a drain that runs out of
/// time can close what is left.
final class ConnectionCount: Sendable {
    private let count = Atomic<Int>(0)
    let limit: Int
    private let open = Mutex<[ObjectIdentifier: Channel]>([:])

    init(limit: Int) { self.limit = limit }

    var current: Int { count.load(ordering: .relaxed) }

    func admit() -> Bool {
        if count.wrappingAdd(1, ordering: .relaxed).newValue > limit {
            count.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Remembers an admitted connection until it closes, then gives its place back.
    func track(_ channel: Channel) {
        open.withLock { $0[ObjectIdentifier(channel)] = channel }
        channel.closeFuture.whenComplete { _ in
            _ = self.open.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
            self.count.wrappingSubtract(1, ordering: .relaxed)
        }
    }

    func closeAll() {
        for channel in open.withLock({ Array($0.values) }) { channel.close(promise: nil) }
    }
}

/// Answers a connection over `limits.maxConnections` with 503 and closes it.
private final class ConnectionRefusal: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        let body = "Too many connections; try again shortly.\n"
        var buffer = context.channel.allocator.buffer(capacity: 160)
        buffer.writeString(
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nRetry-After: 1\r\nConnection: close\r\n\r\n\(body)")
        context.writeAndFlush(NIOAny(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
