import NIOCore
import NIOHTTP1

/// Answers requests the HTTP parser rejects: 431 for an oversized head (so a client with a
/// cookie pile-up learns what is wrong), 400 for anything else, then the connection closes.
/// NIO's own error handler answers 400 to everything.
final class GatewayProtocolErrorHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var responseInProgress = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        if !responseInProgress {
            let page = parserError == .headerOverflow ? GatewayPage.headersTooLarge() : .badRequest("malformed HTTP request")
            let body = page.render(accept: nil, allocator: context.channel.allocator).body
            let headers = HTTPHeaders([
                ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", String(body.readableBytes)),
                ("Connection", "close"), ("Cache-Control", "no-store"),
            ])
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: page.status, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            responseInProgress = true
        } else {
            context.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200: responseInProgress = true
        case .end: responseInProgress = false
        default: break
        }
        context.write(data, promise: promise)
    }
}
