import NIOCore
import NIOHTTP1
import PortcullisCore

/// One client request being proxied: its upstream connection, what has been sent either way,
/// and its timer. Lives on the client connection's event loop.
final class ProxyExchange {
    let clientHead: HTTPRequestHead
    let upstreamHead: HTTPRequestHead
    let route: RouteTarget
    let isUpgrade: Bool
    let started: NIODeadline
    /// Parts received from the client before an upstream connection was attached.
    var pending: [HTTPClientRequestPart] = []
    var upstream: UpstreamConnection?
    var requestComplete = false
    var requestBodyBytes = 0
    var responseBodyBytes = 0
    var responseStatus: HTTPResponseStatus?
    var responseHeadSent = false
    /// Whether the client connection stays open after this exchange.
    var keepClientAlive: Bool
    /// The upstream response allows reusing its connection.
    var upstreamKeepAlive = true
    var upstreamStarted: NIODeadline?
    var upstreamHeadAt: NIODeadline?
    var lastActivity: NIODeadline
    var timer: Scheduled<Void>?
    /// When the response head is due: set once the whole request is upstream.
    var responseDeadline: NIODeadline?
    var attempts = 0

    init(clientHead: HTTPRequestHead, upstreamHead: HTTPRequestHead, route: RouteTarget, isUpgrade: Bool, started: NIODeadline = .now()) {
        self.clientHead = clientHead
        self.upstreamHead = upstreamHead
        self.route = route
        self.isUpgrade = isUpgrade
        self.started = started
        self.lastActivity = started
        // A client whose upgrade is refused cannot send another request on this connection:
        // its request parser stopped at the upgrade.
        self.keepClientAlive = clientHead.isKeepAlive && !isUpgrade
    }

    /// A request that can be sent again on a fresh connection if a reused one turns out to
    /// have been closed by the upstream: idempotent and without a body.
    var isRetryable: Bool {
        requestBodyBytes == 0 && !isUpgrade && [.GET, .HEAD, .OPTIONS].contains(clientHead.method)
    }

    func cancelTimer() {
        timer?.cancel()
        timer = nil
    }
}

/// A protected request waiting for the control plane to decide its session: what arrived
/// of it meanwhile (at most what was in flight; the client is not read until the decision).
final class SessionWait {
    let head: HTTPRequestHead
    let target: RequestTarget
    let route: RouteTarget
    let started: NIODeadline
    var parts: [HTTPClientRequestPart] = []
    var requestComplete = false

    init(head: HTTPRequestHead, target: RequestTarget, route: RouteTarget, started: NIODeadline) {
        self.head = head
        self.target = target
        self.route = route
        self.started = started
    }
}
