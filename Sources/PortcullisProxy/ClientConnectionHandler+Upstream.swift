import NIOCore
import NIOHTTP1

// MARK: Gateway → upstream

extension ClientConnectionHandler {
    func acquireUpstream(for exchange: ProxyExchange, reuse: Bool) {
        exchange.attempts += 1
        if reuse, let connection = pool.takeIdle(exchange.route.key) {
            // Inside the client's read cycle: its read-complete flushes the request.
            attach(connection, to: exchange, at: exchange.started, flush: false)
            return
        }
        let route = exchange.route
        pool.connect(route.key, address: route.address, timeout: route.connectTimeout, headerRules: runtime.headerRules, tls: route.tls).assumeIsolated().whenComplete { result in
            guard case .proxying(let current) = self.state, current === exchange else {
                // The exchange ended while connecting (the client left, or it failed): the
                // connection is closed, not parked, so a request the client abandoned leaves
                // nothing open at the upstream.
                if case .success(let connection) = result { connection.close() }
                return
            }
            switch result {
            case .success(let connection):
                self.attach(connection, to: exchange, at: self.loopNow(), flush: true)
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

    private func attach(_ connection: UpstreamConnection, to exchange: ProxyExchange, at now: NIODeadline, flush: Bool) {
        exchange.upstream = connection
        connection.delegate = self
        exchange.upstreamStarted = now
        exchange.upstreamHeadSent = false
        if flush {
            // Attached after a connect: no read cycle of the client's follows to send the head.
            connection.writeHead(exchange.upstreamHead, method: exchange.clientHead.method, flush: exchange.pending.isEmpty)
            exchange.upstreamHeadSent = true
            for part in exchange.pending { connection.write(part) }
            exchange.pending.removeAll()
            connection.flush()
        }
        // From here the connection's timer watches the exchange's deadlines.
        if exchange.requestComplete { startResponseClock(exchange) }
        resumeClientReads()
    }

    /// Sends a client body part, framed for the upstream hop.
    func sendBody(_ body: ByteBuffer, _ exchange: ProxyExchange) {
        exchange.requestFraming.frame(body, allocator: allocator) { sendFramed($0, exchange) }
    }

    func sendFramed(_ bytes: ByteBuffer, _ exchange: ProxyExchange) {
        if let upstream = exchange.upstream {
            if !exchange.upstreamHeadSent {
                upstream.writeHead(exchange.upstreamHead, method: exchange.clientHead.method, flush: false)
                exchange.upstreamHeadSent = true
            }
            upstream.write(bytes)
        } else {
            exchange.pending.append(bytes)
        }
    }

    /// Sends what was written upstream, the head included if it has not gone yet.
    func flushUpstream(_ exchange: ProxyExchange) {
        guard let upstream = exchange.upstream else { return }
        if !exchange.upstreamHeadSent {
            upstream.writeHead(exchange.upstreamHead, method: exchange.clientHead.method, flush: true)
            exchange.upstreamHeadSent = true
        } else {
            upstream.flush()
        }
    }

    /// The route's response timeout runs from the moment the whole request is upstream (a
    /// slow upload is governed by the idle timeout instead, not cut off as "slow upstream").
    func startResponseClock(_ exchange: ProxyExchange) {
        guard exchange.upstream != nil, exchange.responseStatus == nil, exchange.responseDeadline == nil else { return }
        // The connection's timer fires no later than this deadline (it never sleeps longer
        // than the shortest timeout), so setting the deadline is enough.
        exchange.responseDeadline = loopNow() + exchange.route.responseTimeout
    }

    /// Ends an exchange that can no longer produce a well-formed response: both connections close.
    func abort(_ exchange: ProxyExchange, outcome: StaticString) {
        if let upstream = exchange.upstream {
            upstream.delegate = nil
            upstream.close()
        }
        log(exchange, status: exchange.responseStatus?.code ?? 502, outcome: outcome)
        state = .closed
        context?.close(promise: nil)
    }

    /// Answers with an error page when nothing of the upstream's response has been sent.
    func failBeforeResponse(_ exchange: ProxyExchange, page: GatewayPage, outcome: StaticString) {
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
}

// MARK: Upstream → client

extension ClientConnectionHandler: UpstreamConnectionDelegate {
    /// Bodies up to this size are copied into the head's buffer rather than written apart.
    static let smallBody = 2048

    func upstream(_ connection: UpstreamConnection, received event: UpstreamResponseParser.Event) {
        guard case .proxying(let exchange) = state, exchange.upstream === connection, let context else { return }
        switch event {
        case .head(let head):
            startResponse(exchange, head: head, upgrading: false)
        case .switched(let head, let leftover):
            guard exchange.isUpgrade else {
                // A 101 nobody asked for: passed on as a bodyless answer; the connection is
                // not reused.
                startResponse(exchange, head: head, upgrading: false)
                endResponse(exchange, connection: connection, trailers: nil, context: context)
                return
            }
            startResponse(exchange, head: head, upgrading: true)
            writeHeldHead(exchange, context: context)
            // What the upstream sent after its 101 already belongs to the new protocol.
            if let leftover { context.write(wrapOutboundOut(leftover), promise: nil) }
            context.flush()
            upgrade(exchange, connection: connection, context: context)
        case .body(let buffer):
            exchange.responseBodyBytes += buffer.readableBytes
            if var head = exchange.heldHead {
                if exchange.responseFraming != .chunked && buffer.readableBytes <= Self.smallBody {
                    exchange.heldHead = nil
                    head.writeImmutableBuffer(buffer)
                    exchange.heldHead = head
                    return
                }
                writeHeldHead(exchange, context: context)
            }
            exchange.responseFraming.frame(buffer, allocator: allocator) {
                context.write(wrapOutboundOut($0), promise: nil)
            }
        case .end(let trailers):
            endResponse(exchange, connection: connection, trailers: trailers, context: context)
        }
    }

    private func startResponse(_ exchange: ProxyExchange, head: UpstreamResponseHead, upgrading: Bool) {
        let now = loopNow()
        exchange.lastActivity = now
        exchange.upstreamHeadAt = now
        exchange.responseStatus = head.status
        exchange.upstreamKeepAlive = head.keepAlive
        var buffer = responseHeadSpare ?? allocator.buffer(capacity: 512)
        responseHeadSpare = nil
        buffer.clear()
        let written = UpstreamRequest.encodeResponseHead(
            from: head, runtime: runtime, requestMethod: exchange.clientHead.method, clientVersion: exchange.clientHead.version,
            keepAlive: exchange.keepClientAlive, isUpgrade: upgrading, into: &buffer)
        exchange.keepClientAlive = written.keepAlive
        exchange.responseFraming = written.framing
        exchange.heldHead = buffer
    }

    private func endResponse(_ exchange: ProxyExchange, connection: UpstreamConnection, trailers: HTTPHeaders?, context: ChannelHandlerContext) {
        // The exchange is settled (connection parked, request logged) before the last write:
        // that write can close the channel at once (an HTTP/2 stream ends with its response),
        // and the close must find nothing left to cancel.
        let now = loopNow()
        connection.delegate = nil
        if exchange.upstreamKeepAlive && exchange.requestComplete {
            connection.hasServedRequests = true
            pool.park(connection, now: now)
        } else {
            connection.close()
        }
        exchange.upstream = nil
        log(exchange, status: exchange.responseStatus?.code ?? 0, outcome: "proxied", now: now)
        state = .responding

        let head = exchange.heldHead
        var last = head
        exchange.heldHead = nil
        if let end = exchange.responseFraming.end(trailers: trailers, allocator: allocator) {
            if let last { context.write(wrapOutboundOut(last), promise: nil) }
            last = end
        }
        let keepClient = exchange.keepClientAlive && exchange.requestComplete
        // A write promise only when the connection must close after the write.
        let written = keepClient ? nil : context.eventLoop.makePromise(of: Void.self)
        if written != nil || last != nil {
            context.writeAndFlush(wrapOutboundOut(last ?? allocator.buffer(capacity: 0)), promise: written)
        } else {
            context.flush()
        }
        if let head { responseHeadSpare = head }
        finishResponse(keepAlive: keepClient, written: written?.futureResult, now: now)
    }

    func upstreamReadComplete(_ connection: UpstreamConnection) {
        guard case .proxying(let exchange) = state, exchange.upstream === connection, let context else { return }
        exchange.lastActivity = loopNow()
        writeHeldHead(exchange, context: context)
        context.flush()
    }

    /// Writes the held response head, keeping its buffer for the next response (by then the
    /// socket has sent it and the buffer is this handler's alone again: no allocation).
    private func writeHeldHead(_ exchange: ProxyExchange, context: ChannelHandlerContext) {
        guard let head = exchange.heldHead else { return }
        exchange.heldHead = nil
        context.write(wrapOutboundOut(head), promise: nil)
        responseHeadSpare = head
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
                exchange.upstreamHeadSent = false
                exchange.responseDeadline = nil
                if exchange.requestComplete, let end = exchange.requestFraming.end(trailers: nil, allocator: allocator)
                {
                    exchange.pending.append(end)
                }
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
            try client.removeIfPresent(ByteToMessageHandler<HTTPRequestDecoder>.self)
            client.removeHandler(context: context, promise: nil)

            let upstream = upstreamChannel.pipeline.syncOperations
            try upstream.addHandler(upstreamRelay)
            try upstream.removeIfPresent(UpstreamConnection.self)
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
