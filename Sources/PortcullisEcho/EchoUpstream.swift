import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import PortcullisCore

/// A small upstream for trials and tests: answers every request with the request it received
/// (method, target, headers, body size) as JSON, which shows exactly what the gateway
/// injected and stripped. A few paths under `/.echo/` help test the proxy itself:
///
/// - `/.echo/download?bytes=N` streams N bytes (with backpressure),
/// - `/.echo/slow?ms=N` waits N ms before answering,
/// - `/.echo/ws` is a WebSocket echo,
/// - `?respond-header=Name:Value` (repeatable, any path) adds that header to the response.
///
/// A development tool: it trusts and shows everything it is sent.
public final class EchoUpstream: Sendable {
    public let localAddress: SocketAddress
    private let channel: Channel
    let counters: ConnectionCounters

    private init(channel: Channel, counters: ConnectionCounters) {
        self.channel = channel
        self.localAddress = channel.localAddress!
        self.counters = counters
    }

    /// Connections accepted since start (a pooling proxy in front keeps this low).
    public var acceptedConnections: Int { counters.accepted.withLockedValue { $0 } }
    /// Connections open now.
    public var openConnections: Int { counters.open.withLockedValue { $0 } }

    public var port: Int { localAddress.port ?? 0 }

    public static func start(host: String = "127.0.0.1", port: Int, group: EventLoopGroup) async throws -> EchoUpstream {
        let counters = ConnectionCounters()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                counters.opened(channel)
                let upgrader = NIOWebSocketServerUpgrader(
                    shouldUpgrade: { channel, head in
                        channel.eventLoop.makeSucceededFuture(head.uri.hasPrefix("/.echo/ws") ? HTTPHeaders() : nil)
                    },
                    upgradePipelineHandler: { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(WebSocketEchoHandler())
                        }
                    })
                return channel.eventLoop.makeCompletedFuture {
                    let handler = EchoHandler()
                    // After a WebSocket upgrade the HTTP handler must go too, or raw frames reach it.
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (
                            upgraders: [upgrader],
                            completionHandler: { context in
                                if let handler = try? context.pipeline.syncOperations.handler(type: EchoHandler.self) {
                                    context.pipeline.syncOperations.removeHandler(handler, promise: nil)
                                }
                            }
                        ))
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return EchoUpstream(channel: channel, counters: counters)
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Counts the echo's connections, for tests of pooling and cancellation.
final class ConnectionCounters: Sendable {
    let accepted = NIOLockedValueBox(0)
    let open = NIOLockedValueBox(0)

    func opened(_ channel: Channel) {
        accepted.withLockedValue { $0 += 1 }
        open.withLockedValue { $0 += 1 }
        channel.closeFuture.whenComplete { _ in self.open.withLockedValue { $0 -= 1 } }
    }
}

/// Serves one echo connection.
final class EchoHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var head: HTTPRequestHead?
    private var bodyBytes = 0
    /// Bytes still to send for a download, written while the channel is writable.
    private var downloadRemaining = 0
    private var downloadKeepAlive = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            bodyBytes = 0
        case .body(let buffer):
            bodyBytes += buffer.readableBytes
        case .end:
            guard let head else { return }
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let (path, query) = Self.split(head.uri)
        switch path {
        case "/.echo/download":
            let count = Int(Self.parameter("bytes", in: query) ?? "") ?? 0
            let headers = HTTPHeaders([("Content-Type", "application/octet-stream"), ("Content-Length", String(count))])
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
            downloadRemaining = count
            downloadKeepAlive = head.isKeepAlive
            pump(context: context)
        case "/.echo/slow":
            let millis = Int64(Self.parameter("ms", in: query) ?? "") ?? 1000
            let bodyBytes = self.bodyBytes
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(millis)) {
                self.writeEcho(head: head, bodyBytes: bodyBytes, context: context)
            }
        default:
            writeEcho(head: head, bodyBytes: bodyBytes, context: context)
        }
    }

    private func writeEcho(head: HTTPRequestHead, bodyBytes: Int, context: ChannelHandlerContext) {
        var json = "{\"method\":\"\(head.method.rawValue)\",\"uri\":\(JSONText.quoted(head.uri)),\"bodyBytes\":\(bodyBytes),\"headers\":["
        json += head.headers.map { "[\(JSONText.quoted($0.name)),\(JSONText.quoted($0.value))]" }.joined(separator: ",")
        json += "]}\n"
        let body = context.channel.allocator.buffer(string: json)
        var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", String(body.readableBytes))])
        for pair in Self.split(head.uri).1.split(separator: "&") where pair.hasPrefix("respond-header=") {
            let value = pair.dropFirst("respond-header=".count).removingPercentEncodingLite()
            if let colon = value.firstIndex(of: ":") {
                headers.add(name: String(value[..<colon]), value: String(value[value.index(after: colon)...]))
            }
        }
        if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        let keepAlive = head.isKeepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }

    private static let chunk = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)

    /// Writes download chunks until the channel pushes back or the download is done.
    private func pump(context: ChannelHandlerContext) {
        while downloadRemaining > 0 && context.channel.isWritable {
            let size = min(downloadRemaining, Self.chunk.readableBytes)
            downloadRemaining -= size
            context.write(wrapOutboundOut(.body(.byteBuffer(Self.chunk.getSlice(at: 0, length: size)!))), promise: nil)
            if downloadRemaining == 0 {
                let keepAlive = downloadKeepAlive
                context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                    if !keepAlive { context.close(promise: nil) }
                }
                return
            }
        }
        context.flush()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && downloadRemaining > 0 { pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    static func split(_ uri: String) -> (Substring, Substring) {
        guard let mark = uri.firstIndex(of: "?") else { return (Substring(uri), "") }
        return (uri[..<mark], uri[uri.index(after: mark)...])
    }

    static func parameter(_ name: String, in query: Substring) -> String? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.first == Substring(name) { return parts.count > 1 ? String(parts[1]) : "" }
        }
        return nil
    }

}

/// Echoes WebSocket text and binary frames, answers pings, and closes when asked.
final class WebSocketEchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary, .continuation:
            let reply = WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: frame.unmaskedData)
            context.writeAndFlush(wrapOutboundOut(reply), promise: nil)
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)))
                .assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        default:
            break
        }
    }
}

extension Substring {
    /// Decodes `%XX` escapes (enough for test query parameters).
    func removingPercentEncodingLite() -> String {
        var bytes: [UInt8] = []
        var iterator = utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%"), let high = iterator.next(), let low = iterator.next(),
                let value = UInt8(String(decoding: [high, low], as: UTF8.self), radix: 16)
            {
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
