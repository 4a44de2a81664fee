import NIOCore
import NIOHTTP1
import PortcullisCore

/// One client request being proxied: its upstream connection, what has been sent either way,
/// and its deadlines (watched by the client connection's timer). Lives on the client
/// connection's event loop.
final class ProxyExchange {
    let clientHead: HTTPRequestHead
    /// The client's path without the query (for the access log).
    let path: Substring
    /// The encoded request head for the upstream, kept until a connection takes it (and for
    /// a retry on a fresh connection).
    let upstreamHead: ByteBuffer
    let requestFraming: BodyFraming
    let route: RouteTarget
    let isUpgrade: Bool
    let started: NIODeadline
    /// Framed body bytes received from the client before an upstream connection was attached.
    @exclusivity(unchecked) var pending: [ByteBuffer] = []
    @exclusivity(unchecked) var upstream: UpstreamConnection?
    /// Whether `upstreamHead` went to the current connection: it is written at the first flush
    /// point (body, end of request, end of read), so a bodyless request is one write.
    @exclusivity(unchecked) var upstreamHeadSent = false
    @exclusivity(unchecked) var requestComplete = false
    @exclusivity(unchecked) var requestBodyBytes = 0
    @exclusivity(unchecked) var responseBodyBytes = 0
    @exclusivity(unchecked) var responseStatus: HTTPResponseStatus?
    @exclusivity(unchecked) var responseFraming: BodyFraming = .plain
    /// The client's response head, held back until the first body part or the end of the
    /// read, so a small body goes out in the same buffer (one write, one iovec).
    @exclusivity(unchecked) var heldHead: ByteBuffer?
    /// Whether the client connection stays open after this exchange.
    @exclusivity(unchecked) var keepClientAlive: Bool
    /// The upstream response allows reusing its connection.
    @exclusivity(unchecked) var upstreamKeepAlive = true
    @exclusivity(unchecked) var upstreamStarted: NIODeadline?
    @exclusivity(unchecked) var upstreamHeadAt: NIODeadline?
    /// Last time bytes moved either way, for the route's idle timeout.
    @exclusivity(unchecked) var lastActivity: NIODeadline
    /// When the response head is due: set once the whole request is upstream.
    @exclusivity(unchecked) var responseDeadline: NIODeadline?
    @exclusivity(unchecked) var attempts = 0
    /// The request's server span, when `tracing` is on; ended when the exchange is logged.
    @exclusivity(unchecked) var trace: RequestTracing.Active?

    init(
        clientHead: HTTPRequestHead, path: Substring, upstream encoded: UpstreamRequest.Encoded, route: RouteTarget,
        started: NIODeadline
    ) {
        self.clientHead = clientHead
        self.path = path
        self.upstreamHead = encoded.head
        self.requestFraming = encoded.framing
        self.route = route
        self.isUpgrade = encoded.isUpgrade
        self.started = started
        self.lastActivity = started
        // A client whose upgrade is refused cannot send another request on this connection:
        // its request parser stopped at the upgrade.
        self.keepClientAlive = clientHead.isKeepAlive && !encoded.upgradeRequested
    }

    /// A request that can be sent again on a fresh connection if a reused one turns out to
    /// have been closed by the upstream: idempotent and without a body.
    var isRetryable: Bool {
        guard requestBodyBytes == 0 && !isUpgrade else { return false }
        switch clientHead.method {
        case .GET, .HEAD, .OPTIONS: return true
        default: return false
        }
    }

    /// Whether the exchange is waiting on a timer: attached upstream and not yet upgraded.
    var isTimed: Bool { upstreamStarted != nil }
}

/// A request that passed the frame checks and was matched to a route: what admission
/// decides on, and what is forwarded if it says so.
struct AdmittedRequest {
    let head: HTTPRequestHead
    /// The canonical target: the path routed, authorized and sent upstream.
    let target: RequestTarget
    /// The one host the request names (see `ClientConnectionHandler.requestHost`).
    let host: String?
    let route: RouteTarget
    let started: NIODeadline
}

/// A protected request waiting for the control plane to decide its session. Input that
/// arrives meanwhile waits in the handler's pipelined-input queue (reads are held), and is
/// handled once the decision makes the request an exchange or a local answer.
final class SessionWait {
    let request: AdmittedRequest

    init(_ request: AdmittedRequest) {
        self.request = request
    }
}
