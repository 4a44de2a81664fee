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

/// One keep-alive HTTP/1.1 connection to an upstream, owned by one event loop.
///
/// It is either lent to one exchange (`delegate` set) or idle in the loop's pool. The handler
/// forwards response parts to the delegate and holds reads while the delegate's client is not
/// writable, which is the upstream half of the proxy's backpressure.
final class UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    let key: UpstreamKey
    private(set) var channel: Channel?
    private var context: ChannelHandlerContext?
    weak var delegate: (any UpstreamConnectionDelegate)?
    /// A read the channel asked for while the client was not writable.
    private var readPending = false
    private(set) var isClosed = false
    /// When the connection last went back to the pool (for idle expiry).
    var idleSince: NIODeadline = .now()
    /// Whether this connection served an earlier request (a stale pooled connection may be
    /// closed by the upstream just as we reuse it, which makes a retry of an idempotent
    /// request safe).
    var hasServedRequests = false

    init(key: UpstreamKey) {
        self.key = key
    }

    var isWritable: Bool { channel?.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.channel = context.channel
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func write(_ part: HTTPClientRequestPart) {
        context?.write(wrapOutboundOut(part), promise: nil)
    }

    func flush() {
        context?.flush()
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
        let part = unwrapInboundIn(data)
        guard let delegate else {
            // An idle connection must not speak; anything it says makes it unusable.
            close()
            return
        }
        delegate.upstream(self, received: part)
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
        delegate?.upstreamClosed(self, error: nil)
        delegate = nil
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
