import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PortcullisCore

/// The listening gateway: accepts client connections and gives each the data-plane pipeline.
public final class GatewayServer: Sendable {
    public let localAddress: SocketAddress
    private let channel: Channel
    private let pools: UpstreamPools

    private init(channel: Channel, pools: UpstreamPools) {
        self.channel = channel
        self.localAddress = channel.localAddress!
        self.pools = pools
    }

    /// Binds `runtime.config.listen` and starts serving on `group`'s event loops; access-log
    /// lines go to `accessLogSink`.
    public static func start(
        runtime: GatewayRuntime,
        group: EventLoopGroup,
        threadPool: NIOThreadPool = .singleton,
        accessLogSink: LineSink = .standardOutput,
        logger: Logger
    ) async throws -> GatewayServer {
        let config = runtime.config
        let pools = UpstreamPools(
            group: group, maxIdlePerUpstream: config.upstreamPool.maxIdlePerUpstream,
            idleTimeout: .fromSeconds(config.upstreamPool.idleTimeout))
        let endpoints = GatewayEndpoints(runtime: runtime, threadPool: threadPool)
        let accessLog =
            config.logging.accessLog
            ? AccessLog(format: LineLogHandler.Format(rawValue: config.logging.format) ?? .text, sink: accessLogSink) : nil
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderListSize = config.limits.maxHeaderBytes
        decoderLimits.maxHeaderFieldSize = config.limits.maxHeaderBytes
        let limits = decoderLimits

        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // NIO's request decoder and one handler: see ClientConnectionHandler for
                    // why encoding, pipelining, idle and parse errors all live there.
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: limits)))
                    try pipeline.addHandler(
                        ClientConnectionHandler(
                            runtime: runtime, pool: pools.pool(for: channel.eventLoop), endpoints: endpoints,
                            accessLog: accessLog, logger: logger))
                }
            }
        let channel = try await bootstrap.bind(host: config.listen.address, port: config.listen.port).get()
        return GatewayServer(channel: channel, pools: pools)
    }

    /// Stops accepting and closes pooled upstream connections.
    public func close() async {
        try? await channel.close()
        try? await pools.closeAll()?.get()
    }
}
