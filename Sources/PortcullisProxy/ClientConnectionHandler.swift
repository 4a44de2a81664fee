import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PortcullisCore

/// The data plane for one client connection: routes each request, rewrites its headers, and
/// streams it to a pooled upstream connection on the same event loop and the answer back,
/// with no task hop or `await` on the way (see DESIGN.md, data plane).
///
/// Backpressure both ways: the client is not read while its upstream cannot take more, and
/// the upstream is not read while the client cannot take more.
final class ClientConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// The gateway answers itself once the request (and any body, discarded) is in.
        case local(head: HTTPRequestHead, path: Substring, route: String?, answer: LocalAnswer, started: NIODeadline)
        case proxying(ProxyExchange)
        /// Waiting for a local answer or its write before closing or reading on.
        case responding
        case upgraded
        case closed
    }

    private let runtime: GatewayRuntime
    private let pool: UpstreamPool
    private let endpoints: GatewayEndpoints
    private let accessLog: AccessLog?
    private let logger: Logger
    private var state: State = .idle
    private var context: ChannelHandlerContext?
    private var peer = "unknown"
    /// The body of a local request that needs one (a form POST to the callback).
    private var localBody: ByteBuffer?
    private var localBodyBytes = 0
    /// A read the channel asked for while the upstream could not take more.
    private var readPending = false
    private var logScratch = AccessLog.Scratch()

    init(runtime: GatewayRuntime, pool: UpstreamPool, endpoints: GatewayEndpoints, accessLog: AccessLog?, logger: Logger) {
        self.runtime = runtime
        self.pool = pool
        self.endpoints = endpoints
        self.accessLog = accessLog
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if let address = context.channel.remoteAddress?.ipAddress { peer = address }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    // MARK: Client → gateway

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .idle = state else { return }
            startRequest(head, context: context)
        case .body(var buffer):
            switch state {
            case .proxying(let exchange):
                exchange.requestBodyBytes += buffer.readableBytes
                exchange.lastActivity = .now()
                sendUpstream(.body(.byteBuffer(buffer)), exchange)
            case .local(_, _, _, .withBody(let limit, _), _):
                localBodyBytes += buffer.readableBytes
                if localBodyBytes <= limit {
                    if localBody == nil { localBody = buffer } else { localBody!.writeBuffer(&buffer) }
                }
            default:
                break
            }
        case .end(let trailers):
            switch state {
            case .proxying(let exchange):
                exchange.requestComplete = true
                sendUpstream(.end(trailers), exchange)
                exchange.upstream?.flush()
                startResponseClock(exchange)
            case .local(let head, let path, let route, var answer, let started):
                state = .responding
                if case .withBody(let limit, let make) = answer {
                    answer = localBodyBytes > limit ? .page(.payloadTooLarge()) : make(localBody ?? ByteBuffer())
                    localBody = nil
                    localBodyBytes = 0
                }
                deliver(answer, head: head, path: path, route: route, started: started, context: context)
            default:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .proxying(let exchange) = state { exchange.upstream?.flush() }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if case .proxying(let exchange) = state, !exchange.requestComplete,
            !(exchange.upstream?.isWritable ?? false)
        {
            readPending = true
        } else {
            context.read()
        }
    }

    private func resumeClientReads() {
        guard readPending, let context else { return }
        readPending = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .proxying(let exchange) = state { exchange.upstream?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .proxying(let exchange) = state {
            // The client went away: cancel the upstream request rather than let it run on.
            exchange.cancelTimer()
            if let upstream = exchange.upstream {
                upstream.delegate = nil
                upstream.close()
            }
            log(exchange, status: 499, outcome: "client-closed")
        }
        state = .closed
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            // Idle between requests: close. While an exchange runs, the route's timeouts rule.
            if case .idle = state { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // Protocol errors were answered by the error handler; anything else ends the connection.
        context.close(promise: nil)
    }

    // MARK: Routing

    private func startRequest(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let started = NIODeadline.now()
        let target: RequestTarget
        switch RequestTarget.parse(head.uri) {
        case .success(let parsed): target = parsed
        case .failure(let rejection):
            state = .local(head: head, path: "-", route: nil, answer: .page(.badRequest(rejection.reason)), started: started)
            return
        }
        if target.path.hasPrefix(GatewayEndpoints.prefix) {
            let answer = endpoints.answer(head, target: target, peer: peer, on: context.eventLoop)
            state = .local(head: head, path: target.path, route: nil, answer: answer, started: started)
            return
        }
        guard let index = runtime.routeTable.match(host: head.headers.first(name: "host"), path: target.path) else {
            state = .local(head: head, path: target.path, route: nil, answer: .page(.notFound()), started: started)
            return
        }
        let route = runtime.routes[index]
        var identity: Identity?
        if !route.config.isPublic {
            guard let session = runtime.signIn?.session(cookieHeaders: head.headers["cookie"]) else {
                state = .local(
                    head: head, path: target.path, route: route.config.name, answer: Self.unauthenticated(head, target), started: started)
                return
            }
            identity = session.identity
        }
        if Self.expectsContinue(head) {
            // Upstream 1xx answers are not relayed, so the gateway itself invites the body
            // (as nginx does) instead of leaving the client to wait out its expect timeout.
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .continue))), promise: nil)
        }
        let built = UpstreamRequest.build(
            from: head, path: target.path, query: target.query, route: route, runtime: runtime, peer: peer, identity: identity)
        let exchange = ProxyExchange(clientHead: head, upstreamHead: built.head, route: route, isUpgrade: built.isUpgrade)
        state = .proxying(exchange)
        acquireUpstream(for: exchange, reuse: true)
    }

    // MARK: Upstream connection

    private func acquireUpstream(for exchange: ProxyExchange, reuse: Bool) {
        exchange.attempts += 1
        if reuse, let connection = pool.takeIdle(exchange.route.key) {
            attach(connection, to: exchange)
            return
        }
        let route = exchange.route
        pool.connect(route.key, address: route.address, timeout: route.connectTimeout).assumeIsolated().whenComplete { result in
            guard case .proxying(let current) = self.state, current === exchange else {
                if case .success(let connection) = result { self.pool.park(connection) }
                return
            }
            switch result {
            case .success(let connection):
                self.attach(connection, to: exchange)
            case .failure(let error):
                let timedOut: Bool
                if case ChannelError.connectTimeout = error { timedOut = true } else { timedOut = false }
                self.logger.warning(
                    "upstream connect failed",
                    metadata: ["route": .string(route.config.name), "upstream": .string("\(route.key.host):\(route.key.port)"), "error": .string("\(error)")])
                self.failBeforeResponse(exchange, page: timedOut ? .gatewayTimeout() : .badGateway(), outcome: timedOut ? "connect-timeout" : "connect-failed")
            }
        }
    }

    private func attach(_ connection: UpstreamConnection, to exchange: ProxyExchange) {
        exchange.upstream = connection
        connection.delegate = self
        exchange.upstreamStarted = .now()
        connection.write(.head(exchange.upstreamHead))
        for part in exchange.pending { connection.write(part) }
        exchange.pending.removeAll()
        connection.flush()
        // One timer per exchange, armed here at the earlier of the two limits; it re-arms
        // itself lazily when it fires, so no timer work happens per part or per phase.
        armTimer(exchange, after: min(exchange.route.idleTimeout, exchange.route.responseTimeout))
        if exchange.requestComplete { startResponseClock(exchange) }
        resumeClientReads()
    }

    private func sendUpstream(_ part: HTTPClientRequestPart, _ exchange: ProxyExchange) {
        if let upstream = exchange.upstream {
            upstream.write(part)
        } else {
            exchange.pending.append(part)
        }
    }

    /// The route's response timeout runs from the moment the whole request is upstream (a
    /// slow upload is governed by the idle timeout instead, not cut off as "slow upstream").
    private func startResponseClock(_ exchange: ProxyExchange) {
        guard exchange.upstream != nil, exchange.responseStatus == nil, exchange.responseDeadline == nil else { return }
        // The armed timer fires no later than this deadline (it was armed at most one
        // response timeout ago), so setting the deadline is enough.
        exchange.responseDeadline = .now() + exchange.route.responseTimeout
    }

    /// Arms the exchange's single timer. When it fires it checks the response deadline
    /// (until the response head) and the idle deadline from `lastActivity`, and re-arms for
    /// whichever comes next.
    private func armTimer(_ exchange: ProxyExchange, after delay: TimeAmount) {
        exchange.timer?.cancel()
        guard let loop = context?.eventLoop else { return }
        exchange.timer = loop.assumeIsolated().scheduleTask(in: delay) { [weak self] in
            self?.timerFired(exchange)
        }
    }

    private func timerFired(_ exchange: ProxyExchange) {
        guard case .proxying(let current) = state, current === exchange else { return }
        let now = NIODeadline.now()
        let awaitingHead = exchange.responseStatus == nil
        if awaitingHead, let deadline = exchange.responseDeadline, now >= deadline {
            logger.warning("upstream response timeout", metadata: ["route": .string(exchange.route.config.name)])
            failBeforeResponse(exchange, page: .gatewayTimeout(), outcome: "response-timeout")
            return
        }
        let idleDeadline = exchange.lastActivity + exchange.route.idleTimeout
        if now >= idleDeadline {
            logger.warning("exchange idle timeout", metadata: ["route": .string(exchange.route.config.name)])
            if awaitingHead {
                failBeforeResponse(exchange, page: .gatewayTimeout(), outcome: "idle-timeout")
            } else {
                abort(exchange, outcome: "idle-timeout")
            }
            return
        }
        var next = idleDeadline
        if awaitingHead, let deadline = exchange.responseDeadline { next = min(next, deadline) }
        armTimer(exchange, after: next - now)
    }

    /// Ends an exchange that can no longer produce a well-formed response: both connections close.
    private func abort(_ exchange: ProxyExchange, outcome: StaticString) {
        exchange.cancelTimer()
        if let upstream = exchange.upstream {
            upstream.delegate = nil
            upstream.close()
        }
        log(exchange, status: exchange.responseStatus?.code ?? 502, outcome: outcome)
        state = .closed
        context?.close(promise: nil)
    }

    /// Answers with an error page when nothing of the upstream's response has been sent.
    private func failBeforeResponse(_ exchange: ProxyExchange, page: GatewayPage, outcome: StaticString) {
        exchange.cancelTimer()
        if let upstream = exchange.upstream {
            upstream.delegate = nil
            upstream.close()
        }
        log(exchange, status: page.status.code, outcome: outcome)
        // Unread request body would be taken for the next request: close unless it is all in.
        let keepAlive = exchange.keepClientAlive && exchange.requestComplete
        state = .responding
        writeLocal(.page(page), for: exchange.clientHead, keepAlive: keepAlive)
    }

    // MARK: Local answers

    private func deliver(
        _ answer: LocalAnswer, head: HTTPRequestHead, path: Substring, route: String?, started: NIODeadline,
        context: ChannelHandlerContext
    ) {
        if case .deferred(let future) = answer {
            future.assumeIsolated().whenComplete { result in
                guard case .responding = self.state else { return }
                let resolved: LocalAnswer
                switch result {
                case .success(let answer): resolved = answer
                case .failure: resolved = .page(.badGateway())
                }
                self.deliver(resolved, head: head, path: path, route: route, started: started, context: context)
            }
            return
        }
        let keepAlive = head.isKeepAlive
        let (status, bytes) = writeLocal(answer, for: head, keepAlive: keepAlive)
        accessLog?.record(
            .init(
                method: head.method, path: path, route: route, status: status, peer: peer, started: started,
                upstreamMillis: nil, bytesIn: 0, bytesOut: bytes, outcome: "local"),
            in: &logScratch)
    }

    /// Writes a complete local response; returns its status and body size.
    @discardableResult
    private func writeLocal(_ answer: LocalAnswer, for head: HTTPRequestHead, keepAlive: Bool) -> (UInt, Int) {
        guard let context else { return (0, 0) }
        let response: LocalResponse
        switch answer {
        case .page(let page):
            let rendered = page.render(accept: head.headers.first(name: "accept"), allocator: context.channel.allocator)
            response = LocalResponse(status: page.status, contentType: rendered.contentType, body: String(buffer: rendered.body), headers: page.headers)
        case .response(let local):
            response = local
        case .deferred, .withBody:
            preconditionFailure("deferred and body-needing answers are resolved before writing")
        }
        var headers = response.headers
        headers.replaceOrAdd(name: "Content-Type", value: response.contentType)
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.utf8.count))
        headers.replaceOrAdd(name: "Cache-Control", value: "no-store")
        headers.replaceOrAdd(name: "X-Content-Type-Options", value: "nosniff")
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: response.body)))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        finishResponse(keepAlive: keepAlive, written: written)
        return (response.status.code, response.body.utf8.count)
    }

    /// After a response's end: close, or go back to reading the next request.
    private func finishResponse(keepAlive: Bool, written: EventLoopFuture<Void>?) {
        guard let context else { return }
        if keepAlive {
            state = .idle
            resumeClientReads()
        } else {
            state = .closed
            if let written {
                written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        }
    }

    private func log(_ exchange: ProxyExchange, status: UInt, outcome: StaticString) {
        guard let accessLog else { return }
        let upstreamMillis = exchange.upstreamStarted.map { start in
            Double(((exchange.upstreamHeadAt ?? .now()) - start).nanoseconds) / 1_000_000
        }
        accessLog.record(
            .init(
                method: exchange.clientHead.method, path: Self.pathOnly(exchange.clientHead.uri),
                route: exchange.route.config.name, status: status, peer: peer, started: exchange.started,
                upstreamMillis: upstreamMillis, bytesIn: exchange.requestBodyBytes, bytesOut: exchange.responseBodyBytes,
                outcome: outcome),
            in: &logScratch)
    }

    /// No session on a protected route: a browser navigating is sent to sign in (and back
    /// here afterwards); scripts and API clients get a 401 they can act on, since a redirect
    /// to an HTML sign-in page would only confuse them.
    static func unauthenticated(_ head: HTTPRequestHead, _ target: RequestTarget) -> LocalAnswer {
        if isBrowserNavigation(head) {
            return .response(SignInService.loginRedirect(path: target.path, query: target.query))
        }
        var headers = HTTPHeaders()
        headers.add(name: "WWW-Authenticate", value: "Portcullis realm=\"sign-in\", login=\"/.portcullis/login\"")
        return .response(
            LocalResponse(
                status: .unauthorized, contentType: "application/json",
                body: "{\"status\":401,\"error\":\"unauthenticated\",\"message\":\"Sign-in required.\",\"login\":\"/.portcullis/login\"}\n",
                headers: headers))
    }

    static func isBrowserNavigation(_ head: HTTPRequestHead) -> Bool {
        guard head.method == .GET || head.method == .HEAD else { return false }
        let headers = head.headers
        if headers.first(name: "x-requested-with")?.lowercased() == "xmlhttprequest" { return false }
        if let mode = headers.first(name: "sec-fetch-mode"), mode != "navigate" { return false }
        return headers["accept"].contains { $0.contains("text/html") }
    }

    static func expectsContinue(_ head: HTTPRequestHead) -> Bool {
        head.version.minor >= 1 && head.headers["expect"].contains { $0.lowercased().contains("100-continue") }
    }

    static func pathOnly(_ uri: String) -> Substring {
        uri.firstIndex(of: "?").map { uri[..<$0] } ?? Substring(uri)
    }
}

// MARK: Upstream → client

extension ClientConnectionHandler: UpstreamConnectionDelegate {
    func upstream(_ connection: UpstreamConnection, received part: HTTPClientResponsePart) {
        guard case .proxying(let exchange) = state, exchange.upstream === connection, let context else { return }
        exchange.lastActivity = .now()
        switch part {
        case .head(let head):
            exchange.upstreamHeadAt = exchange.lastActivity
            exchange.responseStatus = head.status
            exchange.upstreamKeepAlive = head.isKeepAlive
            let upgrading = exchange.isUpgrade && head.status == .switchingProtocols
            if !upgrading {
                let framed = head.headers.contains(name: "content-length") || head.headers.contains(name: "transfer-encoding")
                // An HTTP/1.0 client learns where a body without Content-Length ends only by the close.
                if exchange.clientHead.version.minor == 0 && !framed && head.status.mayHaveResponseBody {
                    exchange.keepClientAlive = false
                }
            } else {
                exchange.cancelTimer()
            }
            let clientHead = UpstreamRequest.clientResponseHead(
                from: head, runtime: runtime, clientVersion: exchange.clientHead.version,
                keepAlive: exchange.keepClientAlive, isUpgrade: upgrading)
            exchange.responseHeadSent = true
            context.write(wrapOutboundOut(.head(clientHead)), promise: nil)
        case .body(let buffer):
            exchange.responseBodyBytes += buffer.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            if exchange.isUpgrade && exchange.responseStatus == .switchingProtocols {
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                upgrade(exchange, connection: connection, context: context)
                return
            }
            exchange.cancelTimer()
            let keepClient = exchange.keepClientAlive && exchange.requestComplete
            // A write promise only when the connection must close after the write.
            let written = keepClient ? nil : context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: written)
            connection.delegate = nil
            if exchange.upstreamKeepAlive && exchange.requestComplete {
                connection.hasServedRequests = true
                pool.park(connection)
            } else {
                connection.close()
            }
            exchange.upstream = nil
            log(exchange, status: exchange.responseStatus?.code ?? 0, outcome: "proxied")
            finishResponse(keepAlive: keepClient, written: written?.futureResult)
        }
    }

    func upstreamReadComplete(_ connection: UpstreamConnection) {
        guard case .proxying(let exchange) = state, exchange.upstream === connection else { return }
        context?.flush()
    }

    func upstreamWritabilityChanged(_ connection: UpstreamConnection) {
        if connection.isWritable { resumeClientReads() }
    }

    func upstreamMayRead(_ connection: UpstreamConnection) -> Bool {
        context?.channel.isWritable ?? false
    }

    func upstreamClosed(_ connection: UpstreamConnection, error: (any Error)?) {
        guard case .proxying(let exchange) = state, exchange.upstream === connection else { return }
        exchange.upstream = nil
        if exchange.responseStatus == nil {
            if connection.hasServedRequests && exchange.isRetryable && exchange.attempts < 3 {
                // A pooled connection the upstream had closed while idle: try a fresh one.
                exchange.pending.removeAll()
                exchange.responseDeadline = nil
                if exchange.requestComplete { exchange.pending.append(.end(nil)) }
                acquireUpstream(for: exchange, reuse: false)
                return
            }
            if let error { logger.warning("upstream failed", metadata: ["route": .string(exchange.route.config.name), "error": .string("\(error)")]) }
            failBeforeResponse(exchange, page: .badGateway(), outcome: "upstream-closed")
        } else {
            // Part of the response is already with the client: the only honest signal left is
            // to cut the connection so the client sees a truncated response.
            abort(exchange, outcome: "upstream-closed-mid-response")
        }
    }
}

// MARK: Protocol upgrade

extension ClientConnectionHandler {
    /// After the upstream's 101: both pipelines drop their HTTP handlers and become a byte relay.
    private func upgrade(_ exchange: ProxyExchange, connection: UpstreamConnection, context: ChannelHandlerContext) {
        state = .upgraded
        exchange.cancelTimer()
        connection.delegate = nil
        exchange.upstream = nil
        log(exchange, status: 101, outcome: "upgraded")
        guard let upstreamChannel = connection.channel else {
            context.close(promise: nil)
            return
        }
        let (clientRelay, upstreamRelay) = ByteRelayHandler.pair()
        do {
            let client = context.pipeline.syncOperations
            try client.addHandler(clientRelay)
            try client.removeIfPresent(HTTPServerPipelineHandler.self)
            try client.removeIfPresent(GatewayProtocolErrorHandler.self)
            try client.removeIfPresent(NIOHTTPResponseHeadersValidator.self)
            try client.removeIfPresent(IdleStateHandler.self)
            try client.removeIfPresent(HTTPResponseEncoder.self)
            try client.removeIfPresent(ByteToMessageHandler<HTTPRequestDecoder>.self)
            client.removeHandler(context: context, promise: nil)

            let upstream = upstreamChannel.pipeline.syncOperations
            try upstream.addHandler(upstreamRelay)
            try upstream.removeIfPresent(UpstreamConnection.self)
            try upstream.removeIfPresent(NIOHTTPRequestHeadersValidator.self)
            try upstream.removeIfPresent(HTTPRequestEncoder.self)
            try upstream.removeIfPresent(ByteToMessageHandler<HTTPResponseDecoder>.self)
        } catch {
            logger.warning("upgrade failed", metadata: ["error": .string("\(error)")])
            upstreamChannel.close(promise: nil)
            context.close(promise: nil)
        }
    }
}

extension ChannelPipeline.SynchronousOperations {
    func removeIfPresent<Handler: RemovableChannelHandler>(_ type: Handler.Type) throws {
        guard let context = try? self.context(handlerType: type) else { return }
        self.removeHandler(context: context, promise: nil)
    }
}
