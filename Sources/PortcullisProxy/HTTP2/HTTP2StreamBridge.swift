import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import PortcullisCore

/// Lets the HTTP/1.1 data plane (``ClientConnectionHandler``) serve one HTTP/2 stream, so a
/// request that arrives over HTTP/2 meets the same framing checks, admission, session gate,
/// header rules and upstream pools as one over HTTP/1.1; upstreams always speak HTTP/1.1.
///
/// Sits between NIO's `HTTP2FramePayloadToHTTP1ServerCodec` and the handler:
/// - inbound, the request head is presented as HTTP/1.1 (each stream carries one request, and
///   the handler frames an HTTP/1.1 upstream request from it), with the `cookie` fields an
///   HTTP/2 client may split joined into one (RFC 9113 §8.2.3), since an HTTP/1.1 upstream
///   expects one;
/// - outbound, the handler writes an HTTP/1.1 response as bytes, which are parsed back into
///   a head, body parts and an end for the codec (the same strict parser that reads upstream
///   responses). Hop-by-hop fields are dropped: HTTP/2 has no connection-level fields.
///
/// The re-parse costs the HTTP/2 path a second look at each response head; the HTTP/1.1 hot
/// path, which most clients behind a load balancer use, pays nothing for HTTP/2.
final class HTTP2StreamBridge: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTPServerResponsePart

    private var parser: UpstreamResponseParser
    private var parts: [HTTPServerResponsePart] = []

    init(hopByHop: HeaderRules) {
        parser = UpstreamResponseParser(hopByHop: hopByHop)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        // A HEAD's answer has no body whatever its fields say.
        parser.expectResponse(bodyless: head.method == .HEAD)
        head.version = .http1_1
        Self.joinCookieFields(&head.headers)
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        var switched = false
        parts.removeAll(keepingCapacity: true)
        do {
            try parser.feed(bytes) { event in
                switch event {
                case .head(let head): parts.append(.head(Self.responseHead(head)))
                case .body(let body): parts.append(.body(.byteBuffer(body)))
                case .end(let trailers): parts.append(.end(trailers))
                case .switched: switched = true
                }
            }
        } catch {
            promise?.fail(error)
            context.close(promise: nil)
            return
        }
        if switched {
            // No protocol switch exists on an HTTP/2 stream (the codec refuses `Upgrade`).
            promise?.fail(ChannelError.operationUnsupported)
            context.close(promise: nil)
            return
        }
        guard let last = parts.indices.last else {
            // Bytes of a head still incomplete, or an interim answer (100) that is not relayed.
            promise?.succeed(())
            return
        }
        for index in parts.indices {
            context.write(wrapOutboundOut(parts[index]), promise: index == last ? promise : nil)
        }
        parts.removeAll(keepingCapacity: true)
    }

    /// The response head for the codec: status and end-to-end fields only.
    static func responseHead(_ head: UpstreamResponseHead) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.fields.count)
        for field in head.fields {
            switch field.kind {
            case .regular, .contentLength, .strictTransportSecurity: headers.add(name: field.name(in: head.bytes), value: field.value(in: head.bytes))
            case .hopByHop, .connection, .upgrade, .transferEncoding: continue
            }
        }
        return HTTPResponseHead(version: .http1_1, status: head.status, headers: headers)
    }

    /// Joins several `cookie` fields into one, with "; " between them (RFC 9113 §8.2.3).
    static func joinCookieFields(_ headers: inout HTTPHeaders) {
        let values = headers["cookie"]
        guard values.count > 1 else { return }
        headers.remove(name: "cookie")
        headers.add(name: "cookie", value: values.joined(separator: "; "))
    }
}

/// Refuses an HTTP/2 request whose `host` field names another host than its `:authority`
/// (RFC 9113 §8.3.1 calls it malformed): NIO's codec keeps `host` and drops `:authority`, so
/// without this a client could be routed by one and address the other. The stream is reset.
final class HTTP2AuthorityCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .headers(let headers) = unwrapInboundIn(data), !Self.agrees(headers.headers) {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    /// Whether `host` (when present, and then only once) names the `:authority`.
    static func agrees(_ headers: HPACKHeaders) -> Bool {
        let hosts = headers[canonicalForm: "host"]
        guard !hosts.isEmpty else { return true }
        guard hosts.count == 1, let authority = headers.first(name: ":authority") else { return hosts.count == 1 }
        return hosts[0].lowercased() == authority.lowercased()
    }
}
