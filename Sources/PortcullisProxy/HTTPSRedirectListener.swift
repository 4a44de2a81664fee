import NIOCore
import NIOHTTP1
import NIOPosix
import PortcullisCore

/// The plain-HTTP listener `listen.httpRedirect` asks for: every request is answered with a
/// redirect to HTTPS (``HTTPSRedirect`` decides) and the connection closes. Nothing is
/// proxied and no cookie is read here, so a session cookie never has to cross plain HTTP.
public final class HTTPSRedirectListener: Sendable {
    public let localAddress: SocketAddress
    private let channel: Channel
    private let connections: ConnectionCount

    private init(channel: Channel, connections: ConnectionCount) {
        self.channel = channel
        self.localAddress = channel.localAddress!
        self.connections = connections
    }

    static func start(config: GatewayConfig, loops: GatewayLoops, group: EventLoopGroup) async throws -> HTTPSRedirectListener? {
        guard let listen = config.listen.httpRedirect else { return nil }
        let decoderLimits = GatewayServer.decoderLimits(config.limits)
        let connections = ConnectionCount(limit: config.limits.maxConnections)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard connections.admit() else {
                        channel.close(promise: nil)
                        return
                    }
                    connections.track(channel)
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, limitConfiguration: decoderLimits)))
                    try pipeline.addHandler(HTTPSRedirectHandler(loop: loops.loop(for: channel.eventLoop)))
                }
            }
        let channel = try await bootstrap.bind(host: listen.address, port: listen.port).get()
        return HTTPSRedirectListener(channel: channel, connections: connections)
    }

    /// Stops accepting and closes every connection (each holds at most one short answer).
    public func close() async {
        try? await channel.close()
        connections.closeAll()
    }
}

/// One connection of the redirect listener: one answer, then the close. The request head
/// must arrive within `limits.requestHeadTimeout` of the connection opening.
final class HTTPSRedirectHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    private let loop: GatewayLoop
    private var answered = false
    private var deadline: Scheduled<Void>?

    init(loop: GatewayLoop) {
        self.loop = loop
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        deadline = context.eventLoop.scheduleTask(in: loop.runtime.requestHeadTimeout) { channel.close(promise: nil) }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data), !answered else { return }
        answered = true
        deadline?.cancel()
        let runtime = loop.runtime
        guard let redirect = runtime.httpsRedirect else {
            context.close(promise: nil)
            return
        }
        let answer = redirect.answer(
            method: head.method.rawValue, uri: head.uri, hostValues: head.headers["host"], httpMinorVersion: Int(head.version.minor))
        var buffer = context.channel.allocator.buffer(capacity: 512)
        let body: String
        switch answer {
        case .redirect(let status, let location):
            body = "Moved to \(location)\n"
            buffer.writeStatusLine(version: .http1_1, status: HTTPResponseStatus(statusCode: status))
            buffer.writeHeaderField("Location", location)
        case .badRequest(let reason):
            body = "Bad request: \(reason)\n"
            buffer.writeStatusLine(version: .http1_1, status: .badRequest)
        case .notFound:
            body = "Not found.\n"
            buffer.writeStatusLine(version: .http1_1, status: .notFound)
        }
        buffer.writeHeaderField("Content-Type", "text/plain; charset=utf-8")
        buffer.writeHeaderField("Content-Length", String(body.utf8.count))
        buffer.writeHeaderField("Cache-Control", "no-store")
        buffer.writeHeaderField("Connection", "close")
        buffer.writeHeadEnd()
        if head.method != .HEAD { buffer.writeString(body) }
        context.writeAndFlush(NIOAny(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A malformed request: nothing worth answering on the redirect port.
        context.close(promise: nil)
    }
}
