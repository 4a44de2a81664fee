import NIOCore
import NIOHTTP1

/// Serves one connection: collects each request (at most 64 KiB of body), hands it to the
/// router and writes the answer.
///
/// The cap keeps a misbehaving test client from growing the IdP's memory; an oversized
/// request is read to its end and discarded, then answered 413 and the connection closed,
/// so the client sees the status rather than a reset.
final class DevIdPHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maximumBodyBytes = 64 * 1024

    private enum State {
        case idle
        case collecting(HTTPRequestHead, ByteBuffer)
        case discarding(HTTPRequestHead)
    }

    private let router: DevIdPRouter
    private var state = State.idle

    init(router: DevIdPRouter) {
        self.router = router
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), _):
            let declared = head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0
            state =
                declared > Self.maximumBodyBytes
                ? .discarding(head) : .collecting(head, context.channel.allocator.buffer(capacity: max(declared, 0)))
        case (.body(var part), .collecting(let head, var body)):
            if body.readableBytes + part.readableBytes > Self.maximumBodyBytes {
                state = .discarding(head)
            } else {
                state = .idle  // drop our reference so the append does not copy
                body.writeBuffer(&part)
                state = .collecting(head, body)
            }
        case (.body, _):
            break
        case (.end, .collecting(let head, let body)):
            state = .idle
            let response =
                DevIdPRequest(head: head, body: body).map(router.respond)
                ?? .json(
                    .object([("error", .string("invalid_request")), ("error_description", .string("Malformed request target."))]),
                    status: .badRequest)
            write(response, for: head, keepAlive: head.isKeepAlive, context: context)
        case (.end, .discarding(let head)):
            state = .idle
            write(.payloadTooLarge, for: head, keepAlive: false, context: context)
        case (.end, .idle):
            break
        }
    }

    private func write(_ response: DevIdPResponse, for head: HTTPRequestHead, keepAlive: Bool, context: ChannelHandlerContext) {
        let body = context.channel.allocator.buffer(string: response.body)
        var headers = HTTPHeaders(response.headers)
        headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))), promise: nil)
        if head.method != .HEAD && body.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
        }
    }
}
