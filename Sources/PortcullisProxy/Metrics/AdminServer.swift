import NIOCore
import NIOHTTP1
import NIOPosix

/// The admin listener: `GET /metrics` in the Prometheus text format, and nothing else. Separate
/// from the public listener (and on loopback by default), so metrics never reach the internet.
public final class AdminServer: Sendable {
    private let channel: Channel
    public var localAddress: SocketAddress { channel.localAddress! }

    private init(channel: Channel) {
        self.channel = channel
    }

    /// Binds `host:port` and answers scrapes with `render()`.
    public static func start(host: String, port: Int, group: EventLoopGroup, render: @escaping @Sendable () async -> String) async throws -> AdminServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHandler(render: render))
                }
            }
            .bind(host: host, port: port).get()
        return AdminServer(channel: channel)
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Answers one admin request at a time on its connection.
private final class AdminHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let render: @Sendable () async -> String
    private var head: HTTPRequestHead?

    init(render: @escaping @Sendable () async -> String) {
        self.render = render
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            guard path == "/metrics", head.method == .GET || head.method == .HEAD else {
                respond(context: context, head: head, status: .notFound, body: "not found\n", contentType: "text/plain; charset=utf-8")
                return
            }
            let render = self.render
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            context.eventLoop.makeFutureWithTask { await render() }.whenSuccess { text in
                let (handler, context) = loopBound.value
                handler.respond(context: context, head: head, status: .ok, body: text, contentType: "text/plain; version=0.0.4; charset=utf-8")
            }
        }
    }

    private func respond(context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, body: String, contentType: String) {
        var buffer = context.channel.allocator.buffer(capacity: body.utf8.count)
        buffer.writeString(body)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(buffer.readableBytes))
        headers.add(name: "Cache-Control", value: "no-store")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
