import NIOCore
import NIOHTTP1

/// What an upstream connection reports to the exchange that is using it.
protocol UpstreamConnectionDelegate: AnyObject {
    func upstream(_ connection: UpstreamConnection, received part: HTTPClientResponsePart)
    func upstreamReadComplete(_ connection: UpstreamConnection)
    func upstreamWritabilityChanged(_ connection: UpstreamConnection)
    func upstreamClosed(_ connection: UpstreamConnection, error: (any Error)?)
    /// Whether the upstream may be read from now (false while the client cannot take more).
    func upstreamMayRead(_ connection: UpstreamConnection) -> Bool
}

/// The response decoder of an upstream connection.
typealias UpstreamResponseDecoder = HTTPDecoder<HTTPClientResponsePart, HTTPClientRequestPart>

/// One keep-alive HTTP/1.1 connection to an upstream, owned by one event loop.
///
/// It is either lent to one exchange (`delegate` set) or idle in the loop's pool. The handler
/// forwards response parts to the delegate and holds reads while the delegate's client is not
/// writable, which is the upstream half of the proxy's backpressure.
///
/// Requests go out as bytes the gateway encoded itself. They are written from the response
/// decoder's position in the pipeline, straight to the socket, so the decoder (which only
/// understands request parts) never sees them; the request method it needs to delimit the
/// response (no body after HEAD) is handed to it directly.
final class UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let key: UpstreamKey
    private let decoder: UpstreamResponseDecoder
    private(set) var channel: Channel?
    private var context: ChannelHandlerContext?
    /// Where request bytes enter the pipeline: the decoder's context, whose next outbound
    /// handler is the socket.
    private var writeContext: ChannelHandlerContext?
    /// The exchange using this connection. A strong reference: every path that ends an
    /// exchange (end, failure, client close, upgrade) sets it back to nil.
    var delegate: (any UpstreamConnectionDelegate)?
    /// A read the channel asked for while the client was not writable.
    private var readPending = false
    private(set) var isClosed = false
    /// When the connection last went back to the pool (for idle expiry).
    var idleSince: NIODeadline = .now()
    /// Whether this connection served an earlier request (a stale pooled connection may be
    /// closed by the upstream just as we reuse it, which makes a retry of an idempotent
    /// request safe).
    var hasServedRequests = false

    init(key: UpstreamKey, decoder: UpstreamResponseDecoder) {
        self.key = key
        self.decoder = decoder
    }

    var isWritable: Bool { channel?.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.channel = context.channel
        self.writeContext = try? context.pipeline.syncOperations.context(handlerType: ByteToMessageHandler<UpstreamResponseDecoder>.self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.writeContext = nil
    }

    /// Written since the last flush (a flush with nothing to send still walks the pipeline).
    private var unflushed = false

    /// Starts a request: tells the decoder its method, then writes the encoded head.
    func writeHead(_ head: ByteBuffer, for request: HTTPRequestHead, flush: Bool) {
        decoder.write(data: .head(request))
        if flush {
            writeContext?.writeAndFlush(wrapOutboundOut(head), promise: nil)
            unflushed = false
        } else {
            write(head)
        }
    }

    func write(_ bytes: ByteBuffer) {
        writeContext?.write(wrapOutboundOut(bytes), promise: nil)
        unflushed = true
    }

    func flush() {
        guard unflushed else { return }
        unflushed = false
        writeContext?.flush()
    }

    func close() {
        guard !isClosed else { return }
        isClosed = true
        channel?.close(promise: nil)
    }

    /// Lets a read through that was held for backpressure.
    func resumeReading() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    // MARK: Channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let delegate else {
            // An idle connection must not speak; anything it says makes it unusable.
            close()
            return
        }
        delegate.upstream(self, received: unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete(self)
    }

    func read(context: ChannelHandlerContext) {
        if let delegate, !delegate.upstreamMayRead(self) {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(self)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamClosed(self, error: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let delegate = self.delegate
        self.delegate = nil
        close()
        delegate?.upstreamClosed(self, error: error)
    }
}

/// Identifies an upstream server for pooling: connections are reusable across routes that
/// point at the same host and port.
struct UpstreamKey: Hashable, Sendable {
    var host: String
    var port: Int
}
