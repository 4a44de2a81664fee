import NIOCore
import NIOHTTP1

// MARK: Local answers

extension ClientConnectionHandler {
    func deliver(
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
        let keepAlive = head.isKeepAlive && !draining
        let (status, bytes) = writeLocal(answer, for: head, keepAlive: keepAlive)
        loop.metrics.recordLocal(route: route, status: status)
        accessLog?.record(
            .init(
                method: head.method, path: path, version: clientVersion(head), route: route, status: status, peer: peer, started: started,
                upstreamTime: nil, bytesIn: 0, bytesOut: bytes, outcome: "local"),
            in: &logScratch)
    }

    /// Writes a complete local response in one buffer; returns its status and body size.
    @discardableResult
    func writeLocal(_ answer: LocalAnswer, for head: HTTPRequestHead, keepAlive: Bool) -> (UInt, Int) {
        guard let context else { return (0, 0) }
        let response: LocalResponse
        switch answer {
        case .page(let page):
            let rendered = page.render(accept: head.headers.first(name: "accept"), allocator: allocator)
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
        if let hsts = runtime.hsts { headers.replaceOrAdd(name: "Strict-Transport-Security", value: hsts) }

        var buffer = allocator.buffer(capacity: 256 + response.body.utf8.count)
        buffer.writeStatusLine(version: head.version, status: response.status)
        let bodyless = !response.status.mayHaveResponseBody
        for (name, value) in headers {
            // No framing fields where no body may follow, as NIO's encoder has it.
            if bodyless && (fieldName(name, is: "content-length") || fieldName(name, is: "transfer-encoding")) { continue }
            buffer.writeHeaderField(name, value)
        }
        buffer.writeHeadEnd()
        if head.method != .HEAD && !bodyless { buffer.writeString(response.body) }
        let written = keepAlive ? nil : context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: written)
        finishResponse(keepAlive: keepAlive, written: written?.futureResult)
        return (response.status.code, response.body.utf8.count)
    }
}
