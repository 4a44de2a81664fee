import NIOCore
import NIOHTTP1
import PortcullisCore

/// What an upstream connection reports to the exchange that is using it.
protocol UpstreamConnectionDelegate: AnyObject {
    func upstream(_ connection: UpstreamConnection, received event: UpstreamResponseParser.Event)
    func upstreamReadComplete(_ connection: UpstreamConnection)
    func upstreamWritabilityChanged(_ connection: UpstreamConnection)
    func upstreamClosed(_ connection: UpstreamConnection, error: (any Error)?)
    /// Whether the upstream may be read from now (false while the client cannot take more).
    func upstreamMayRead(_ connection: UpstreamConnection) -> Bool
}

/// One keep-alive HTTP/1.1 connection to an upstream, owned by one event loop, and the only
/// handler in its pipeline: requests go out as bytes the gateway encoded, responses are
/// parsed from the socket's bytes (`UpstreamResponseParser`).
///
/// It is either lent to one exchange (`delegate` set) or idle in the loop's pool. The handler
/// forwards response events to the delegate and holds reads while the delegate's client is
/// not writable, which is the upstream half of the proxy's backpressure.
final class UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let key: UpstreamKey
    private(set) var channel: Channel?
    @exclusivity(unchecked) private var context: ChannelHandlerContext?
    /// The exchange using this connection. A strong reference: every path that ends an
    /// exchange (end, failure, client close, upgrade) sets it back to nil.
    @exclusivity(unchecked) var delegate: (any UpstreamConnectionDelegate)?
    private var parser: UpstreamResponseParser
    /// The parser is handing out events; requests started meanwhile (a pipelined request on
    /// the connection just freed) are registered with it once it is done.
    @exclusivity(unchecked) private var parsing = false
    @exclusivity(unchecked) private var expectedWhileParsing: [Bool] = []
    /// Written since the last flush (a flush with nothing to send still walks the pipeline).
    @exclusivity(unchecked) private var unflushed = false
    /// A read the channel asked for while the client was not writable.
    @exclusivity(unchecked) private var readPending = false
    private(set) var isClosed = false
    /// When the connection last went back to the pool (for idle expiry).
    @exclusivity(unchecked) var idleSince: NIODeadline = .now()
    /// Whether this connection served an earlier request (a stale pooled connection may be
    /// closed by the upstream just as we reuse it, which makes a retry of an idempotent
    /// request safe).
    @exclusivity(unchecked) var hasServedRequests = false

    init(key: UpstreamKey, headerRules: HeaderRules) {
        self.key = key
        self.parser = UpstreamResponseParser(hopByHop: headerRules)
    }

    var isWritable: Bool { channel?.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.channel = context.channel
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // The relay that takes over after an upgrade must not wait for a held read.
        if readPending {
            readPending = false
            context.read()
        }
    }

    /// Starts a request: its response is now expected, then the encoded head is written.
    func writeHead(_ head: ByteBuffer, method: HTTPMethod, flush: Bool) {
        // Answers to HEAD (and CONNECT) carry no body whatever their fields say.
        let bodyless = method == .HEAD || method == .CONNECT
        if parsing {
            expectedWhileParsing.append(bodyless)
        } else {
            parser.expectResponse(bodyless: bodyless)
        }
        if flush {
            context?.writeAndFlush(wrapOutboundOut(head), promise: nil)
            unflushed = false
        } else {
            write(head)
        }
    }

    func write(_ bytes: ByteBuffer) {
        context?.write(wrapOutboundOut(bytes), promise: nil)
        unflushed = true
    }

    func flush() {
        guard unflushed else { return }
        unflushed = false
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
        guard delegate != nil else {
            // An idle connection must not speak; anything it says makes it unusable.
            close()
            return
        }
        parsing = true
        var failure: UpstreamResponseParser.Failure?
        do {
            // The delegate is looked up per event: an exchange that ends hands the
            // connection back, and a pipelined request may take it at once.
            try parser.feed(unwrapInboundIn(data)) { event in self.delegate?.upstream(self, received: event) }
        } catch {
            failure = error
        }
        parsing = false
        if !expectedWhileParsing.isEmpty {
            for bodyless in expectedWhileParsing { parser.expectResponse(bodyless: bodyless) }
            expectedWhileParsing.removeAll()
        }
        if let failure {
            let delegate = self.delegate
            self.delegate = nil
            close()
            delegate?.upstreamClosed(self, error: failure)
        }
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
        guard let delegate else { return }
        // A response delimited by the close ends here; anything else unfinished fails.
        // (While events are being handed out the parser is busy; the close then came from
        // the delegate's own handling and nothing is left to finish.)
        if !parsing {
            var ended = false
            try? parser.feedEOF { event in
                if case .end = event { ended = true }
                delegate.upstream(self, received: event)
            }
            if ended {
                self.delegate = nil
                return
            }
        }
        self.delegate = nil
        delegate.upstreamClosed(self, error: nil)
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
    /// Empty for plain HTTP; for HTTPS, the TLS settings' identity, so a pooled connection is
    /// reused only under the same trust and client certificate.
    var tls: String = ""
}
