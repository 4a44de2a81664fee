import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2
import PortcullisCore

/// Lets the HTTP/1.1 data plane (``ClientConnectionHandler``) serve one HTTP/2 stream, so a
/// request that arrives over HTTP/2 meets the same framing checks, admission, session gate,
/// header rules and upstream pools as one over HTTP/1.1; upstreams always speak HTTP/1.1.
///
/// The stream's frames, after swift-nio-http2 has validated them (RFC 9113: pseudo-headers,
/// no connection-specific fields, no CR/LF/NUL in values, `content-length` against the body):
/// - inbound, the request's HEADERS become an HTTP/1.1 request head: `:authority` as `Host`
///   (a `host` field that names another host resets the stream, RFC 9113 §8.3.1, so routing
///   and the upstream see one host), split `cookie` fields joined into one (§8.2.3), and a body
///   without a length marked chunked, as the data plane frames it again for the upstream;
///   DATA frames become body parts, END_STREAM the end;
/// - outbound, the handler writes an HTTP/1.1 response as bytes, which the strict upstream
///   parser reads back into a HEADERS frame (`:status`, end-to-end fields in lower case) and
///   DATA frames, with END_STREAM on the last frame the same write produced.
///
/// One handler instead of NIO's HTTP/1-to-HTTP/2 codec and a bridge beside it: a response
/// costs one conversion, and a body that ends in the write that carries it needs no empty
/// DATA frame to end the stream.
final class HTTP2StreamAdapter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    private var parser: UpstreamResponseParser
    private var requestStarted = false
    /// Frames produced by the write being handled, sent when it is parsed.
    private var frames: [HTTP2Frame.FramePayload] = []

    init(hopByHop: HeaderRules) {
        parser = UpstreamResponseParser(hopByHop: hopByHop)
    }

    // MARK: Request

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .headers(let block):
            if requestStarted {
                // Trailers end the request.
                context.fireChannelRead(wrapInboundOut(.end(HTTPHeaders(block.headers.map { ($0.name, $0.value) }))))
                return
            }
            requestStarted = true
            guard let head = Self.requestHead(block.headers, endStream: block.endStream) else {
                context.close(promise: nil)
                return
            }
            // A HEAD's answer has no body whatever its fields say.
            parser.expectResponse(bodyless: head.method == .HEAD)
            context.fireChannelRead(wrapInboundOut(.head(head)))
            if block.endStream { context.fireChannelRead(wrapInboundOut(.end(nil))) }
        case .data(let frame):
            guard case .byteBuffer(let body) = frame.data else { return }
            if body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(body))) }
            if frame.endStream { context.fireChannelRead(wrapInboundOut(.end(nil))) }
        default:
            // Priority, window updates, resets: swift-nio-http2's business.
            break
        }
    }

    /// The HTTP/1.1 request head for a validated HEADERS block; nil when the request is
    /// malformed for the gateway (a `host` that is not the `:authority`, or a second `host`).
    static func requestHead(_ block: HPACKHeaders, endStream: Bool) -> HTTPRequestHead? {
        var method: String?, path: String?, authority: String?
        var host: String?
        var hosts = 0
        var cookies: [String] = []
        var hasLength = false
        var fields: [(String, String)] = []
        fields.reserveCapacity(block.count + 1)
        for (name, value, _) in block {
            if name.utf8.first == UInt8(ascii: ":") {
                switch name {
                case ":method": method = value
                case ":path": path = value
                case ":authority": authority = value
                default: break
                }
                continue
            }
            switch name {
            case "host":
                hosts += 1
                host = value
            case "cookie":
                cookies.append(value)
                continue
            case "content-length":
                hasLength = true
            default:
                break
            }
            fields.append((name, value))
        }
        // The method goes into the upstream's request line as it is: a token, or nothing.
        guard let method, !method.isEmpty, method.utf8.allSatisfy(UpstreamResponseHead.isTokenByte), let path, hosts <= 1 else { return nil }
        if let host, let authority, host.lowercased() != authority.lowercased() { return nil }
        if host == nil, let authority { fields.insert(("host", authority), at: 0) }
        if !cookies.isEmpty { fields.append(("cookie", cookies.count == 1 ? cookies[0] : cookies.joined(separator: "; "))) }
        // The data plane frames the body for the upstream from the head. Whatever the method,
        // a request whose HEADERS do not end the stream may carry DATA: without a length it is
        // marked chunked, so its bytes can never reach the upstream unframed (where they would
        // read as another request). NIO's codec leaves GET and friends unmarked.
        let httpMethod = HTTPMethod(rawValue: method)
        if !hasLength && !endStream { fields.append(("transfer-encoding", "chunked")) }
        if !hasLength && endStream && httpMethod.expectsRequestBody { fields.append(("content-length", "0")) }
        return HTTPRequestHead(version: .http1_1, method: httpMethod, uri: path, headers: HTTPHeaders(fields))
    }

    // MARK: Response

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let bytes = unwrapOutboundIn(data)
        var failed = false
        frames.removeAll(keepingCapacity: true)
        do {
            try parser.feed(bytes) { event in
                switch event {
                case .head(let head):
                    frames.append(.headers(.init(headers: Self.responseFields(head))))
                case .body(let body):
                    frames.append(.data(.init(data: .byteBuffer(body))))
                case .end(let trailers):
                    // A chunked body's end carries an empty trailer section: no HEADERS for it.
                    if let trailers, !trailers.isEmpty {
                        frames.append(.headers(.init(headers: HPACKHeaders(trailers.map { ($0.name.lowercased(), $0.value) }), endStream: true)))
                    } else {
                        Self.endStream(&frames, allocator: context.channel.allocator)
                    }
                case .switched:
                    // No protocol switch exists on an HTTP/2 stream.
                    failed = true
                }
            }
        } catch {
            failed = true
        }
        if failed {
            promise?.fail(ChannelError.operationUnsupported)
            context.close(promise: nil)
            return
        }
        guard let last = frames.indices.last else {
            // Bytes of a head still incomplete, or an interim answer (100) that is not relayed.
            promise?.succeed(())
            return
        }
        for index in frames.indices {
            context.write(wrapOutboundOut(frames[index]), promise: index == last ? promise : nil)
        }
        frames.removeAll(keepingCapacity: true)
    }

    /// Ends the stream on the last frame of this write when it can carry the flag, else with
    /// an empty DATA frame.
    static func endStream(_ frames: inout [HTTP2Frame.FramePayload], allocator: ByteBufferAllocator) {
        switch frames.last {
        case .data(var last)?:
            last.endStream = true
            frames[frames.count - 1] = .data(last)
        case .headers(var last)?:
            last.endStream = true
            frames[frames.count - 1] = .headers(last)
        default:
            frames.append(.data(.init(data: .byteBuffer(allocator.buffer(capacity: 0)), endStream: true)))
        }
    }

    /// `:status` and the end-to-end fields, names in lower case (HTTP/2 has no
    /// connection-level fields).
    static func responseFields(_ head: UpstreamResponseHead) -> HPACKHeaders {
        var fields: [(String, String)] = [(":status", String(head.status.code))]
        fields.reserveCapacity(head.fields.count + 1)
        for field in head.fields {
            switch field.kind {
            case .regular, .contentLength, .strictTransportSecurity:
                fields.append((field.name(in: head.bytes).lowercased(), field.value(in: head.bytes)))
            case .hopByHop, .connection, .upgrade, .transferEncoding:
                continue
            }
        }
        return HPACKHeaders(fields)
    }
}
