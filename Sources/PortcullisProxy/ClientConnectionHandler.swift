import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PortcullisCore

/// The data plane for one client connection: routes each request, rewrites its headers, and
/// streams it to a pooled upstream connection on the same event loop and the answer back,
/// with no task hop or `await` on the way (see docs/architecture.md).
///
/// Backpressure both ways: the client is not read while its upstream cannot take more, and
/// the upstream is not read while the client cannot take more.
///
/// The pipeline is NIO's request decoder and this handler, nothing else: this handler writes
/// response heads and frames bodies itself (`HTTPHeadWriter`, `BodyFraming`), handles
/// pipelined requests one at a time, answers malformed requests, and runs the connection's
/// one timer (client idle and the running exchange's deadlines). Each of those was a
/// separate NIO handler that every request part passed through.
final class ClientConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Every payload is one reference, so reading the state copies a pointer, not a head.
    enum State {
        case idle
        /// The gateway answers itself once the request (and any body, discarded) is in.
        case local(LocalRequest)
        case proxying(ProxyExchange)
        /// A protected request whose session the control plane is deciding (a store read
        /// on a cache miss, or a revalidation). The client is not read meanwhile.
        case awaitingSession(SessionWait)
        /// Waiting for a local answer or its write before closing or reading on.
        case responding
        case upgraded
        case closed

        static func local(head: HTTPRequestHead, path: Substring, route: String?, answer: LocalAnswer, started: NIODeadline) -> State {
            .local(LocalRequest(head: head, path: path, route: route, answer: answer, started: started))
        }
    }

    /// A request the gateway answers itself.
    final class LocalRequest {
        let head: HTTPRequestHead
        let path: Substring
        let route: String?
        let answer: LocalAnswer
        let started: NIODeadline

        init(head: HTTPRequestHead, path: Substring, route: String?, answer: LocalAnswer, started: NIODeadline) {
            self.head = head
            self.path = path
            self.route = route
            self.answer = answer
            self.started = started
        }
    }

    /// Input that arrived while an earlier request's response was still due (HTTP/1.1
    /// pipelining): handled in order once that response is complete.
    enum WaitingInput {
        case part(HTTPServerRequestPart)
        case parseError(HTTPParserError)
    }

    /// This event loop's pool and current runtime (config).
    let loop: GatewayLoop
    let pool: UpstreamPool
    let threadPool: NIOThreadPool
    let accessLog: AccessLog?
    let logger: Logger
    /// The runtime the current (or last) request started with: read from the loop once per
    /// request, so a reload applies from the next request and never halfway through one.
    @exclusivity(unchecked) var runtime: GatewayRuntime
    // The mutable state below (and that of `ProxyExchange`, `UpstreamConnection` and
    // `UpstreamPool`) is confined to the channel's event loop, and no access to it spans a
    // call that could re-enter the handler (the two passed inout, the access-log scratch and the
    // session-cookie memo, go to code that calls nothing back). So the dynamic exclusivity
    // checks Swift runs on every access to a class's stored `var` (about a hundred instructions
    // each, near a tenth of a proxied request's cost by callgrind) are turned off for these
    // properties only. `UpstreamConnection.parser` keeps them: its parse calls back into this
    // handler.
    @exclusivity(unchecked) var state: State = .idle
    @exclusivity(unchecked) var context: ChannelHandlerContext?
    @exclusivity(unchecked) var peer = "unknown"
    /// The body of a local request that needs one (a form POST to the callback).
    @exclusivity(unchecked) var localBody: ByteBuffer?
    @exclusivity(unchecked) var localBodyBytes = 0
    /// A read the channel asked for while the handler could not take more input.
    @exclusivity(unchecked) var readPending = false
    /// A request head has been read and its end not yet: its body parts are handled at once.
    @exclusivity(unchecked) var requestOpen = false
    /// Pipelined input waiting for the current response; while there is any, reads are held.
    @exclusivity(unchecked) var waiting = CircularBuffer<WaitingInput>(initialCapacity: 0)
    @exclusivity(unchecked) private var handlingWaiting = false
    /// Bytes of the current exchange moved in this read cycle (for its idle deadline).
    @exclusivity(unchecked) var exchangeInput = false
    /// When the last response ended (or the connection opened): the idle clock.
    @exclusivity(unchecked) var idleSince = NIODeadline.now()
    /// When the first byte of the next request head arrived, while the head is incomplete:
    /// the head deadline runs from here and is not reset by further bytes (slowloris).
    @exclusivity(unchecked) var headStarted: NIODeadline?
    /// A request ended in this read cycle, so bytes seen while idle were its own, not a new head's.
    @exclusivity(unchecked) var requestEndedInRead = false
    /// The server is draining: finish the current response with `Connection: close`.
    @exclusivity(unchecked) var draining = false
    @exclusivity(unchecked) private var timer: Scheduled<Void>?
    @exclusivity(unchecked) var logScratch = AccessLog.Scratch()
    /// The session cookie this connection opened last (see ``SessionCookieMemo``).
    @exclusivity(unchecked) var sessionCookieMemo = SessionCookieMemo()
    /// The identity header lines this connection rendered last (see ``IdentityHeaderMemo``).
    @exclusivity(unchecked) var identityHeaderMemo = IdentityHeaderMemo()
    /// The channel's allocator, looked up once.
    @exclusivity(unchecked) var allocator = ByteBufferAllocator()
    /// The buffers of the last request and response heads, reused once the socket has sent
    /// them (and the exchange holding the request head is gone), so a head costs no allocation.
    @exclusivity(unchecked) var requestHeadSpare: ByteBuffer?
    @exclusivity(unchecked) var responseHeadSpare: ByteBuffer?

    /// Whether this handler serves one HTTP/2 stream (through ``HTTP2StreamAdapter``), whose
    /// requests arrive as HTTP/1.1 heads; the access log names the client's protocol.
    let isHTTP2Stream: Bool

    init(loop: GatewayLoop, threadPool: NIOThreadPool, accessLog: AccessLog?, logger: Logger, isHTTP2Stream: Bool = false) {
        self.isHTTP2Stream = isHTTP2Stream
        self.loop = loop
        self.pool = loop.pool
        self.runtime = loop.runtime
        self.threadPool = threadPool
        self.accessLog = accessLog
        self.logger = logger
    }

    /// The event loop's clock (virtual under `EmbeddedEventLoop`, so timer tests need no waits).
    @inline(__always)
    func loopNow() -> NIODeadline { context?.eventLoop.now ?? .now() }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        allocator = context.channel.allocator
        if let address = context.channel.remoteAddress?.ipAddress { peer = address }
        if context.channel.isActive { startTimer(context: context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
        // Whoever takes over the connection (the byte relay after an upgrade) must not wait
        // for a read this handler was holding.
        if readPending {
            readPending = false
            context.read()
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        if let address = context.channel.remoteAddress?.ipAddress { peer = address }
        startTimer(context: context)
        context.fireChannelActive()
    }

    // MARK: Client → gateway

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if !waiting.isEmpty || !acceptsInput {
            waiting.append(.part(part))
            return
        }
        handle(part, context: context)
    }

    /// Whether input can be handled now: between requests, or the current request's own body.
    private var acceptsInput: Bool {
        if case .awaitingSession = state { return false }
        if requestOpen { return true }
        if case .idle = state { return true }
        if case .closed = state { return true }  // dropped on arrival
        return false
    }

    private func handle(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            guard case .idle = state else { return }
            requestOpen = true
            startRequest(head, context: context)
        case .body(var buffer):
            switch state {
            case .proxying(let exchange):
                exchange.requestBodyBytes += buffer.readableBytes
                exchangeInput = true
                sendBody(buffer, exchange)
            case .local(let request):
                guard case .withBody(let limit, _) = request.answer else { break }
                localBodyBytes += buffer.readableBytes
                if localBodyBytes <= limit {
                    if localBody == nil { localBody = buffer } else { localBody!.writeBuffer(&buffer) }
                }
            default:
                break
            }
        case .end(let trailers):
            requestOpen = false
            requestEndedInRead = true
            switch state {
            case .proxying(let exchange):
                exchange.requestComplete = true
                // A bodyless request ends in the read that brought its head (`started`).
                if exchange.requestBodyBytes > 0 || exchange.requestFraming == .chunked { exchangeInput = true }
                if let end = exchange.requestFraming.end(trailers: trailers, allocator: allocator) {
                    sendFramed(end, exchange)
                }
                flushUpstream(exchange)
                startResponseClock(exchange)
            case .local(let request):
                state = .responding
                var answer = request.answer
                if case .withBody(let limit, let make) = answer {
                    answer = localBodyBytes > limit ? .page(.payloadTooLarge()) : make(localBody ?? ByteBuffer())
                    localBody = nil
                    localBodyBytes = 0
                }
                deliver(answer, head: request.head, path: request.path, route: request.route, started: request.started, context: context)
            default:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        switch state {
        case .idle:
            // Part of a head arrived (the decoder holds it): the head deadline starts now.
            if !requestEndedInRead && headStarted == nil { headStarted = loopNow() }
        case .proxying(let exchange):
            if exchangeInput {
                exchange.lastActivity = loopNow()
                exchangeInput = false
            }
            flushUpstream(exchange)
        default:
            break
        }
        requestEndedInRead = false
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if holdsReads {
            readPending = true
        } else {
            context.read()
        }
    }

    /// Reads wait while pipelined input is queued, and while an upload's upstream cannot
    /// take more (or is still being connected).
    private var holdsReads: Bool {
        if !waiting.isEmpty { return true }
        if case .awaitingSession = state { return true }
        if case .proxying(let exchange) = state, !exchange.requestComplete, !(exchange.upstream?.isWritable ?? false) {
            return true
        }
        return false
    }

    func resumeClientReads() {
        guard readPending, !holdsReads, let context else { return }
        readPending = false
        context.read()
    }

    /// Handles queued pipelined input once the response before it is complete.
    func handleWaitingInput() {
        guard !waiting.isEmpty || readPending else { return }
        guard !handlingWaiting, let context else { return }
        handlingWaiting = true
        defer { handlingWaiting = false }
        while acceptsInput, let next = waiting.popFirst() {
            switch next {
            case .part(let part): handle(part, context: context)
            case .parseError(let error): answerProtocolError(error)
            }
        }
        // Outside a read cycle nothing else flushes what was written upstream.
        if case .proxying(let exchange) = state { flushUpstream(exchange) }
        resumeClientReads()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .proxying(let exchange) = state { exchange.upstream?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        waiting.removeAll()
        if case .proxying(let exchange) = state {
            // The client went away: cancel the upstream request rather than let it run on.
            if let upstream = exchange.upstream {
                upstream.delegate = nil
                upstream.close()
            }
            log(exchange, status: 499, outcome: "client-closed")
        }
        state = .closed
        context.fireChannelInactive()
    }

    /// The server is draining: an idle connection closes now; a busy one finishes its
    /// response with `Connection: close` and then closes.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        draining = true
        switch state {
        case .idle where headStarted == nil && waiting.isEmpty:
            state = .closed
            context.close(promise: nil)
        case .proxying(let exchange) where exchange.responseStatus == nil:
            exchange.keepClientAlive = false
        default:
            break
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        if !waiting.isEmpty || !acceptsInput {
            // A malformed request after one still being answered: refused after that answer.
            waiting.append(.parseError(parserError))
            return
        }
        answerProtocolError(parserError)
    }

    /// Answers a request the HTTP parser rejected: 431 for an oversized head (so a client
    /// with a cookie pile-up learns what is wrong), 400 for anything else, then the connection
    /// closes. An exchange in progress ends; once its response has started, the only signal
    /// left is the close.
    private func answerProtocolError(_ error: HTTPParserError) {
        guard let context else { return }
        requestOpen = false
        waiting.removeAll()
        switch state {
        case .closed, .upgraded:
            return
        case .proxying(let exchange):
            if let upstream = exchange.upstream {
                upstream.delegate = nil
                upstream.close()
            }
            if exchange.responseStatus != nil {
                log(exchange, status: exchange.responseStatus?.code ?? 400, outcome: "protocol-error")
                state = .closed
                context.close(promise: nil)
                return
            }
            log(exchange, status: 400, outcome: "protocol-error")
        case .idle, .local, .responding, .awaitingSession:
            break
        }
        let page = error == .headerOverflow ? GatewayPage.headersTooLarge() : .badRequest("malformed HTTP request")
        closeAnswering(page)
    }

    /// Answers with `page` and closes: for a request that cannot be read to its end.
    func closeAnswering(_ page: GatewayPage) {
        guard let context else { return }
        state = .closed
        var buffer = allocator.buffer(capacity: 1024)
        let body = page.render(accept: nil, allocator: allocator).body
        buffer.writeStatusLine(version: .http1_1, status: page.status)
        buffer.writeHeaderField("Content-Type", "text/html; charset=utf-8")
        buffer.writeHeaderField("Content-Length", String(body.readableBytes))
        buffer.writeHeaderField("Connection", "close")
        buffer.writeHeaderField("Cache-Control", "no-store")
        if let hsts = runtime.hsts { buffer.writeHeaderField("Strict-Transport-Security", hsts) }
        buffer.writeHeadEnd()
        buffer.writeImmutableBuffer(body)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    // MARK: Timer

    private func startTimer(context: ChannelHandlerContext) {
        guard timer == nil else { return }
        idleSince = loopNow()
        armTimer(at: idleSince + runtime.connectionTimerInterval)
    }

    private func armTimer(at deadline: NIODeadline) {
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { self.timerFired() }
    }

    /// The connection's one timer, never asleep longer than the shortest timeout it watches
    /// (`GatewayRuntime.connectionTimerInterval`), so deadlines set while it sleeps need no
    /// re-arming: the client's idle timeout between requests, and the running exchange's
    /// response and idle deadlines.
    private func timerFired() {
        timer = nil
        guard let context, context.channel.isActive else { return }
        let now = loopNow()
        var next = now + runtime.connectionTimerInterval
        switch state {
        case .idle:
            if let headStarted {
                let deadline = headStarted + runtime.requestHeadTimeout
                if now >= deadline {
                    logger.info("request head not complete in time", metadata: ["peer": .string(peer)])
                    closeAnswering(GatewayPage(status: .requestTimeout, title: "Request timeout", message: "The request did not arrive in time."))
                    return
                }
                next = min(next, deadline)
            }
            let deadline = idleSince + runtime.clientIdleTimeout
            if now >= deadline, headStarted == nil {
                context.close(promise: nil)
                return
            }
            next = min(next, deadline)
        case .proxying(let exchange) where exchange.isTimed:
            if let due = checkDeadlines(exchange, now: now) { next = min(next, due) }
            if case .closed = state { return }
        default:
            break
        }
        armTimer(at: next)
    }

    /// Ends the exchange if one of its deadlines passed; otherwise returns the next one.
    private func checkDeadlines(_ exchange: ProxyExchange, now: NIODeadline) -> NIODeadline? {
        let awaitingHead = exchange.responseStatus == nil
        if awaitingHead, let deadline = exchange.responseDeadline, now >= deadline {
            logger.warning("upstream response timeout", metadata: ["route": .string(exchange.route.config.name)])
            failBeforeResponse(exchange, page: .gatewayTimeout(), outcome: "response-timeout")
            return nil
        }
        let idleDeadline = exchange.lastActivity + exchange.route.idleTimeout
        if now >= idleDeadline {
            logger.warning("exchange idle timeout", metadata: ["route": .string(exchange.route.config.name)])
            if awaitingHead {
                failBeforeResponse(exchange, page: .gatewayTimeout(), outcome: "idle-timeout")
            } else {
                abort(exchange, outcome: "idle-timeout")
            }
            return nil
        }
        var next = idleDeadline
        if awaitingHead, let deadline = exchange.responseDeadline { next = min(next, deadline) }
        return next
    }

    // MARK: Routing

    /// A request head is in: frame checks (target, host), then the gateway's own endpoints,
    /// then the route, the session and the admission decision, which this only performs.
    private func startRequest(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        headStarted = nil
        runtime = loop.runtime
        let started = loopNow()
        let target: RequestTarget
        switch RequestTarget.parse(head.uri) {
        case .success(let parsed): target = parsed
        case .failure(let rejection):
            state = .local(head: head, path: "-", route: nil, answer: .page(.badRequest(rejection.reason)), started: started)
            return
        }
        let host: String?
        switch Self.requestHost(head, target: target) {
        case .success(let value): host = value
        case .failure(let rejection):
            state = .local(head: head, path: target.path, route: nil, answer: .page(.badRequest(rejection.reason)), started: started)
            return
        }
        if head.method == .TRACE && Self.declaresBody(head) {
            // RFC 9110 §9.3.8: no content in a TRACE. An upstream that takes TRACE as bodyless
            // would read the body as the start of another request (smuggling).
            state = .local(head: head, path: target.path, route: nil, answer: .page(.badRequest("a TRACE request carries no body")), started: started)
            return
        }
        if Self.isGatewayPath(target.path) {
            let request = EndpointRequest(
                name: target.path.dropFirst(GatewayEndpoints.prefix.utf8.count), head: head, target: target, peer: peer,
                eventLoop: context.eventLoop, assertions: loop.assertions)
            let answer = GatewayEndpoints.answer(request, runtime: runtime, threadPool: threadPool)
            state = .local(head: head, path: target.path, route: nil, answer: answer, started: started)
            return
        }
        guard let index = runtime.routeTable.match(host: host, path: target.path) else {
            state = .local(head: head, path: target.path, route: nil, answer: .page(.notFound()), started: started)
            return
        }
        let route = runtime.routes[index]
        let request = AdmittedRequest(head: head, target: target, host: host, route: route, started: started)
        guard !route.config.isPublic else {
            forward(request, identity: nil, context: context)
            return
        }
        switch runtime.gate.check(
            cookieHeaders: CookieHeader.Fields(headers: head.headers), memo: &sessionCookieMemo, rules: runtime.sessionRules, on: context.eventLoop,
            counting: loop.metrics)
        {
        case .live(let session):
            admit(request, session: .live(session.identity), context: context)
        case .anonymous:
            admit(request, session: .anonymous, context: context)
        case .pending(let decision):
            let wait = SessionWait(request)
            state = .awaitingSession(wait)
            decision.assumeIsolated().whenComplete { result in self.sessionDecided(wait, result) }
        }
    }

    /// The one host the request names: the `Host` field, which must be single, well formed,
    /// and agree with an absolute-form target (RFC 9112 §3.2). Routing, `Host` upstream and
    /// `X-Forwarded-Host` all use this value, so a second `Host` cannot choose one route and
    /// reach another.
    static func requestHost(_ head: HTTPRequestHead, target: RequestTarget) -> Result<String?, RequestTarget.Rejection> {
        var value: String?
        var count = 0
        for (name, field) in head.headers where name.utf8.count == 4 && fieldName(name, is: "host") {
            count += 1
            value = field
        }
        let minor = Int(head.version.major) > 1 ? 1 : Int(head.version.minor)
        return RequestHost.resolve(host: value, count: count, absoluteAuthority: target.authority, httpMinorVersion: minor)
    }

    /// A pending session check finished: the request becomes an exchange or a local answer,
    /// and the input that waited meanwhile (its body, its end) is handled as usual.
    private func sessionDecided(_ wait: SessionWait, _ result: Result<SessionResolution, any Error>) {
        guard case .awaitingSession(let current) = state, current === wait, let context else { return }
        let session: Admission.SessionState
        switch result {
        case .success(.live(let live)): session = .live(live.identity)
        case .success(.anonymous): session = .anonymous
        case .success(.unavailable), .failure: session = .unavailable
        }
        admit(wait.request, session: session, context: context)
        handleWaitingInput()
    }

    /// Asks admission about the request and carries out its decision.
    private func admit(_ request: AdmittedRequest, session: Admission.SessionState, context: ChannelHandlerContext) {
        let head = request.head
        let admission = Admission.decide(
            route: request.route.config, session: session, method: head.method.rawValue,
            clientAddress: { self.runtime.config.trustedProxies.clientIPAddress(peer: self.peer, forwardedFor: head.headers["x-forwarded-for"]) },
            isBrowserNavigation: Self.isBrowserNavigation(head))
        let answer: LocalAnswer
        switch admission {
        case .proxy(let identity):
            forward(request, identity: identity, context: context)
            return
        case .signIn:
            answer = .response(SignInResponses.loginRedirect(path: request.target.path, query: request.target.query))
        case .unauthenticated:
            answer = Self.unauthenticatedAnswer
        case .stepUp(let identity, let authContext, let redirect):
            AccessAnswers.auditStepUp(identity, route: request.route.config.name, authContext: authContext, peer: peer, audit: runtime.gate.audit)
            answer = SignInResponses.stepUp(path: request.target.path, query: request.target.query, authContext: authContext, redirect: redirect)
        case .forbidden(let identity, let rule, let reason):
            answer = denied(request, identity: identity, rule: rule, reason: reason)
        case .unavailable:
            answer = .page(SignInResponses.sessionsUnavailablePage())
        }
        state = .local(head: request.head, path: request.target.path, route: request.route.config.name, answer: answer, started: request.started)
    }

    private func denied(_ request: AdmittedRequest, identity: Identity, rule: String, reason: String) -> LocalAnswer {
        AccessAnswers.denied(
            identity, route: request.route.config.name, rule: rule, reason: reason, peer: peer,
            browser: Self.isBrowserNavigation(request.head), audit: runtime.gate.audit)
    }

    private func forward(_ request: AdmittedRequest, identity: Identity?, context: ChannelHandlerContext) {
        let head = request.head, target = request.target, route = request.route
        var identityFields: [UInt8] = []
        var assertionField: (name: String, value: String)?
        if let identity {
            if let name = route.headerPlan.assertionName {
                guard let token = loop.assertions.assertion(for: identity, route: route, runtime: runtime, now: runtime.gate.now(), logger: logger)
                else {
                    let answer = AccessAnswers.assertionUnavailable(identity, route: route.config.name, peer: peer, audit: runtime.gate.audit)
                    state = .local(head: head, path: target.path, route: route.config.name, answer: answer, started: request.started)
                    return
                }
                assertionField = (name, token)
            }
            switch identityHeaderMemo.fields(for: identity, route: route, logger: logger) {
            case .success(let fields): identityFields = fields
            case .failure(let refusal):
                let answer = denied(request, identity: identity, rule: "headers.username", reason: "route \(route.config.name): \(refusal.reason)")
                state = .local(head: head, path: target.path, route: route.config.name, answer: answer, started: request.started)
                return
            }
        }
        if Self.expectsContinue(head) {
            // Upstream 1xx answers are not relayed, so the gateway itself invites the body
            // (as nginx does) instead of leaving the client to wait out its expect timeout.
            context.writeAndFlush(wrapOutboundOut(Self.continueHead), promise: nil)
        }
        // Tracing is off unless configured: then this is one flag and one nil check.
        let trace =
            runtime.tracesRequests
            ? runtime.tracer.map { RequestTracing.start(tracer: $0, head: head, path: target.path, route: route.config.name) } : nil
        var headBuffer = requestHeadSpare ?? allocator.buffer(capacity: 512)
        requestHeadSpare = nil
        headBuffer.clear()
        let encoded = UpstreamRequest.encode(
            from: head, path: target.path, query: target.query, host: request.host, route: route, runtime: runtime, peer: peer,
            identityFields: identityFields, extraField: assertionField, traceFields: trace?.fields ?? [], into: &headBuffer)
        requestHeadSpare = headBuffer
        let exchange = ProxyExchange(clientHead: head, path: target.path, upstream: encoded, route: route, started: request.started)
        exchange.trace = trace
        if draining { exchange.keepClientAlive = false }
        state = .proxying(exchange)
        acquireUpstream(for: exchange, reuse: true)
    }

    private static let continueHead = ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n")

    /// Whether `path` is under `GatewayEndpoints.prefix`, checked on its second byte first
    /// since nearly no proxied path starts with `/.`.
    static func isGatewayPath(_ path: Substring) -> Bool {
        var bytes = path.utf8.makeIterator()
        _ = bytes.next()
        return bytes.next() == UInt8(ascii: ".") && path.hasPrefix(GatewayEndpoints.prefix)
    }

    /// After a response's end: close, or go back to reading the next request.
    func finishResponse(keepAlive: Bool, written: EventLoopFuture<Void>?, now: NIODeadline? = nil) {
        guard let context else { return }
        // The response's last write closed the channel (an HTTP/2 stream ends with it).
        if case .closed = state { return }
        if keepAlive && !draining {
            state = .idle
            idleSince = now ?? loopNow()
            handleWaitingInput()
        } else {
            state = .closed
            waiting.removeAll()
            if let written {
                written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        }
    }

    func log(_ exchange: ProxyExchange, status: UInt, outcome: StaticString, now: NIODeadline = .now()) {
        if let trace = exchange.trace {
            exchange.trace = nil
            RequestTracing.end(trace.span, status: status, outcome: outcome)
        }
        let upstreamTime = exchange.upstreamStarted.map { (exchange.upstreamHeadAt ?? now) - $0 }
        loop.metrics.record(exchange.route, status: status, upstreamSeconds: upstreamTime.map { Double($0.nanoseconds) / 1e9 })
        guard let accessLog else { return }
        accessLog.record(
            .init(
                method: exchange.clientHead.method, path: exchange.path, version: clientVersion(exchange.clientHead),
                route: exchange.route.config.name, status: status, peer: peer, started: exchange.started,
                upstreamTime: upstreamTime, bytesIn: exchange.requestBodyBytes, bytesOut: exchange.responseBodyBytes,
                outcome: outcome),
            in: &logScratch, now: now)
    }

    /// The client's protocol version, for the access log.
    func clientVersion(_ head: HTTPRequestHead) -> HTTPVersion {
        isHTTP2Stream ? HTTPVersion(major: 2, minor: 0) : head.version
    }

    /// No session on a protected route, and not a browser navigating: a 401 that scripts
    /// and API clients can act on, since a redirect to an HTML sign-in page would only
    /// confuse them.
    static let unauthenticatedAnswer = SignInResponses.unauthorized(
        error: "unauthenticated", fields: [("message", "Sign-in required."), ("login", "/.portcullis/login")], challenge: "login=\"/.portcullis/login\"")

    static func isBrowserNavigation(_ head: HTTPRequestHead) -> Bool {
        BrowserNavigation.isNavigation(method: head.method.rawValue, headers: head.headers)
    }

    /// Whether the head announces a body: any `Transfer-Encoding`, or a `Content-Length` other than 0.
    static func declaresBody(_ head: HTTPRequestHead) -> Bool {
        for (name, value) in head.headers {
            if fieldName(name, is: "transfer-encoding") { return true }
            if fieldName(name, is: "content-length") && value.trimmingCharacters(in: .whitespaces) != "0" { return true }
        }
        return false
    }

    static func expectsContinue(_ head: HTTPRequestHead) -> Bool {
        head.version.minor >= 1 && head.headers["expect"].contains { $0.lowercased().contains("100-continue") }
    }

    static func pathOnly(_ uri: String) -> Substring {
        uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { uri[..<$0] } ?? Substring(uri)
    }
}
