import Logging
import Synchronization
import NIOCore
import NIOHTTP1
import PortcullisCore

/// Writes the request head sent upstream from the client's, and the response head sent back:
/// header hygiene first (identity and hop-by-hop fields dropped), then the gateway's own
/// forwarding headers. Heads go straight into bytes (see `HTTPHeadWriter`).
enum UpstreamRequest {
    struct Encoded {
        var head: ByteBuffer
        /// The client asked to switch to WebSocket and the upgrade is forwarded.
        var isUpgrade: Bool
        /// The client asked to switch protocols at all (any token): its connection cannot carry
        /// another request, since the request parser stops at an upgrade.
        var upgradeRequested: Bool
        /// How the request body is framed on the upstream hop.
        var framing: BodyFraming
    }

    static func encode(
        from head: HTTPRequestHead,
        path: Substring,
        query: Substring?,
        host clientHost: String?,
        route: RouteTarget,
        runtime: GatewayRuntime,
        peer: String,
        identityFields: [UInt8] = [],
        extraField: (name: String, value: String)? = nil,
        traceFields: [(String, String)] = [],
        into buffer: inout ByteBuffer
    ) -> Encoded {
        // First pass: the head's size, and the fields that change how the others are treated
        // (`Connection` may name further hop-by-hop fields anywhere in the head).
        var size = 0
        var forwardedFor: [String] = []
        var upgradeValue: String?
        var connectionUpgrade = false
        var connectionNamesFields = false
        var isChunked = false
        var hasContentLength = false
        for (name, value) in head.headers {
            size += ByteWriter.fieldSize(name, value)
            switch name.utf8.count {
            case 15 where fieldName(name, is: "x-forwarded-for"):
                forwardedFor.append(value)
            case 10 where fieldName(name, is: "connection"):
                if fieldName(value, is: "upgrade") {
                    connectionUpgrade = true
                } else if !isPlainConnectionValue(value) {
                    connectionNamesFields = true
                }
            case 7 where upgradeValue == nil && fieldName(name, is: "upgrade"): upgradeValue = value
            case 17 where fieldName(name, is: "transfer-encoding"): isChunked = true
            case 14 where fieldName(name, is: "content-length"): hasContentLength = true
            default: break
            }
        }
        var connectionTokens: HeaderNameSet?
        if connectionNamesFields {
            let values = head.headers["connection"]
            connectionTokens = HeaderRules.connectionTokens(values)
            connectionUpgrade = HeaderRules.connectionRequestsUpgrade(values)
        }
        let upgradeRequested = upgradeValue != nil && connectionUpgrade
        // Only WebSocket is relayed: after its 101 the gateway becomes a byte relay, which is
        // right for it. Any other protocol (h2c above all) is not offered to the upstream: the
        // request goes on as plain HTTP/1.1, as RFC 9110 §7.8 lets a server choose, and its
        // `HTTP2-Settings` is dropped with the other hop-by-hop fields.
        let isUpgrade = upgradeRequested && upgradeValue.map(Self.isWebSocketUpgrade) == true
        // (A TRACE with a body never gets here: the handler refuses it, RFC 9110 §9.3.8.)
        let framing: BodyFraming
        if hasContentLength {
            framing = .plain
        } else if isChunked || head.method.expectsRequestBody {
            // Transfer-Encoding is hop-by-hop, but the body still needs framing on this hop;
            // methods that expect a body get chunked framing even without one, as NIO does.
            framing = .chunked
        } else {
            framing = .plain
        }

        let methodName = head.method.rawValue
        let base = route.config.upstream.path
        let rest = route.upstreamRest(for: path)
        let host = route.config.preserveHost ? (clientHost ?? route.upstreamAuthority) : route.upstreamAuthority
        let forwarded = forwardedFor.isEmpty ? peer : HeaderRules.appendingForwardedFor(forwardedFor, peer: peer)
        size += methodName.utf8.count + base.utf8.count + rest.utf8.count + (query.map { $0.utf8.count + 1 } ?? 0) + 12
        size += ByteWriter.fieldSize("Host", host) + ByteWriter.fieldSize("X-Forwarded-For", forwarded)
        size += ByteWriter.fieldSize("X-Forwarded-Proto", runtime.forwardedProto)
        size += clientHost.map { ByteWriter.fieldSize("X-Forwarded-Host", $0) } ?? 0
        size += ByteWriter.fieldSize("X-Forwarded-Port", runtime.forwardedPort)
        size += identityFields.count
        size += extraField.map { ByteWriter.fieldSize($0.name, $0.value) } ?? 0
        for (name, value) in traceFields { size += ByteWriter.fieldSize(name, value) }
        size += upgradeValue.map { ByteWriter.fieldSize("Upgrade", $0) + 22 } ?? 0
        size += 30

        // Second pass: write, dropping what must not reach the upstream.
        let ourCookies = runtime.ourCookies
        buffer.writeBytes(capacity: size) { out in
            out.appendText(methodName)
            out.append(byte: UInt8(ascii: " "))
            out.appendText(base)
            out.appendText(rest)
            if let query {
                out.append(byte: UInt8(ascii: "?"))
                out.appendText(query)
            }
            out.append(" HTTP/1.1\r\n")
            for (name, value) in head.headers {
                switch name.utf8.count {
                case 4 where fieldName(name, is: "host"), 15 where fieldName(name, is: "x-forwarded-for"):
                    continue
                case 6 where fieldName(name, is: "expect"):
                    // Answered by the gateway (100 Continue); the upstream gets the body directly.
                    continue
                case 6 where ourCookies != nil && fieldName(name, is: "cookie"):
                    // Session and pending-login cookies are the gateway's: never forwarded.
                    if let kept = CookieHeader.removing(ourCookies!, from: value) { out.appendField(name, kept) }
                    continue
                default:
                    break
                }
                if !runtime.headerRules.stripsFromRequest(name, connectionTokens: connectionTokens) {
                    out.appendField(name, value)
                }
            }
            out.appendField("Host", host)
            out.appendField("X-Forwarded-For", forwarded)
            out.appendField("X-Forwarded-Proto", runtime.forwardedProto)
            if let clientHost { out.appendField("X-Forwarded-Host", clientHost) }
            out.appendField("X-Forwarded-Port", runtime.forwardedPort)
            identityFields.withUnsafeBytes { out.append(bytes: $0) }
            if let extraField { out.appendField(extraField.name, extraField.value) }
            for (name, value) in traceFields { out.appendField(name, value) }
            if isUpgrade, let upgradeValue {
                out.appendField("Connection", "upgrade")
                out.appendField("Upgrade", upgradeValue)
            }
            if case .chunked = framing { out.appendField("Transfer-Encoding", "chunked") }
            out.append("\r\n")
        }
        return Encoded(head: buffer, isUpgrade: isUpgrade, upgradeRequested: upgradeRequested, framing: framing)
    }

    /// `Upgrade: websocket` (any letter case; the parser already trimmed it), alone: a list offering several protocols is
    /// not relayed, since the upstream could pick one the gateway does not relay correctly.
    static func isWebSocketUpgrade(_ value: String) -> Bool {
        value.utf8.count == 9 && fieldName(value, is: "websocket")
    }

    /// Header lines (`Name: value\r\n` each), as sent upstream.
    static func headerLines(_ lines: [(name: String, value: String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (name, value) in lines {
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            out.append(contentsOf: value.utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        return out
    }
}

/// The identity header lines a connection rendered last, and for which identity and route:
/// requests on one keep-alive connection nearly always carry the same session to the same
/// route, so the lines are written from these bytes instead of rendered again. Keyed by the
/// whole identity (equal identities render equally), so a revalidation that changed roles or
/// groups renders anew, and by the route and runtime whose plan rendered them, so a reload
/// that renames a header applies on open keep-alive connections too.
struct IdentityHeaderMemo {
    private var identity: Identity?
    private var route: RouteTarget?
    private var rendered: Result<[UInt8], HeaderRefusal> = .success([])

    struct HeaderRefusal: Error {
        var reason: String
    }

    /// (route, headers) pairs already warned about: a value cut once is cut on every request
    /// of that user, and one warning per route and header says all there is to say.
    private static let warnedCuts = Mutex<Set<String>>([])

    static func firstCut(route: String, headers: [String]) -> Bool {
        let key = route + " " + headers.joined(separator: ",")
        return warnedCuts.withLock { $0.count < 10_000 && $0.insert(key).inserted }
    }

    /// The route's identity header lines for `identity`, or why the route cannot serve it.
    mutating func fields(for identity: Identity, route: RouteTarget, logger: Logger) -> Result<[UInt8], HeaderRefusal> {
        if route !== self.route || identity != self.identity {
            let result = route.headerPlan.render(identity)
            if !result.cut.isEmpty, Self.firstCut(route: route.config.name, headers: result.cut) {
                logger.warning(
                    "identity header value cut to \(IdentityHeaderValue.maxBytes) bytes",
                    metadata: ["route": "\(route.config.name)", "headers": "\(result.cut.joined(separator: ","))", "user": "\(identity.username)"])
            }
            rendered = result.refusal.map { .failure(HeaderRefusal(reason: $0)) } ?? .success(UpstreamRequest.headerLines(result.lines))
            self.identity = identity
            self.route = route
        }
        return rendered
    }
}

extension UpstreamRequest {
    /// What writing the client's response head decided.
    struct ResponseFraming {
        var framing: BodyFraming
        /// Whether the client connection can stay open after this response.
        var keepAlive: Bool
    }

    /// Writes the response head passed to the client: hop-by-hop fields (and those the
    /// upstream's `Connection` lists) removed, the body framed for the client's HTTP version,
    /// and the client connection's own persistence decided here.
    static func encodeResponseHead(
        from head: UpstreamResponseHead,
        runtime: GatewayRuntime,
        requestMethod: HTTPMethod,
        clientVersion: HTTPVersion,
        keepAlive: Bool,
        isUpgrade: Bool,
        into buffer: inout ByteBuffer
    ) -> ResponseFraming {
        // Names the upstream's `Connection` lists besides the usual ones (rare): hop-by-hop too.
        let tokens = head.connectionNamesFields ? HeaderRules.connectionTokens(head.values(of: "connection")) : nil
        let hsts = runtime.hsts
        // Informational, 204 and 304 answers and answers to CONNECT have no body and no
        // framing fields (RFC 9112 §6.3), as NIO's encoder has it.
        let bodyless = !head.status.mayHaveResponseBody || requestMethod == .CONNECT
        var keepAlive = keepAlive
        // An HTTP/1.0 client learns where a body without Content-Length ends only by the close.
        if clientVersion.minor == 0 && !head.hasContentLength && !bodyless { keepAlive = false }
        var framing: BodyFraming
        var addChunked = false
        if bodyless || head.hasContentLength {
            framing = .plain
        } else if clientVersion.minor >= 1 {
            addChunked = true
            framing = .chunked
        } else {
            framing = .untilClose
        }
        // A HEAD answer describes a body it does not carry.
        if requestMethod == .HEAD { framing = .plain }

        let size = ByteWriter.statusLineSize(head.status) + head.bytes.readableBytes + 2 * head.fields.count + 64
            + (hsts.map { $0.utf8.count + 32 } ?? 0)
        buffer.writeBytes(capacity: size) { out in
            out.appendStatusLine(version: clientVersion, status: head.status)
            head.bytes.withUnsafeReadableBytes { raw in
                if tokens == nil && head.canCopyLines {
                    // The usual case: runs of kept lines are copied as they arrived.
                    var runStart = -1
                    for field in head.fields {
                        if Self.passesOn(field.kind, bodyless: bodyless, isUpgrade: isUpgrade, gatewayHSTS: hsts != nil) {
                            if runStart < 0 { runStart = field.nameStart }
                        } else if runStart >= 0 {
                            out.append(bytes: UnsafeRawBufferPointer(rebasing: raw[runStart..<field.nameStart]))
                            runStart = -1
                        }
                    }
                    if runStart >= 0, let last = head.fields.last {
                        out.append(bytes: UnsafeRawBufferPointer(rebasing: raw[runStart..<last.lineEnd]))
                    }
                    return
                }
                for field in head.fields {
                    var keep = Self.passesOn(field.kind, bodyless: bodyless, isUpgrade: isUpgrade, gatewayHSTS: hsts != nil)
                    if keep, field.kind == .regular, let tokens {
                        let name = UnsafeRawBufferPointer(rebasing: raw[field.nameStart..<(field.nameStart + field.nameCount)])
                        keep = !tokens.contains(bytes: name.assumingMemoryBound(to: UInt8.self))
                    }
                    guard keep else { continue }
                    out.append(bytes: UnsafeRawBufferPointer(rebasing: raw[field.nameStart..<(field.nameStart + field.nameCount)]))
                    out.append(": ")
                    out.append(bytes: UnsafeRawBufferPointer(rebasing: raw[field.valueStart..<(field.valueStart + field.valueCount)]))
                    out.append("\r\n")
                }
            }
            if addChunked { out.appendField("Transfer-Encoding", "chunked") }
            if let hsts { out.appendField("Strict-Transport-Security", hsts) }
            if !isUpgrade {
                if !keepAlive {
                    out.appendField("Connection", "close")
                } else if clientVersion.minor == 0 {
                    out.appendField("Connection", "keep-alive")
                }
            }
            out.append("\r\n")
        }
        return ResponseFraming(framing: framing, keepAlive: keepAlive)
    }
}

extension UpstreamRequest {
    /// Whether a response field of this kind reaches the client.
    @inline(__always)
    static func passesOn(_ kind: UpstreamResponseHead.Kind, bodyless: Bool, isUpgrade: Bool, gatewayHSTS: Bool) -> Bool {
        switch kind {
        case .regular: true
        case .strictTransportSecurity: !gatewayHSTS
        case .hopByHop, .transferEncoding: false
        case .connection, .upgrade: isUpgrade
        case .contentLength: !bodyless
        }
    }
}

extension UpstreamResponseHead {
    /// The values of the fields named `lowercase`, as strings (for the rare paths that need them).
    func values(of lowercase: StaticString) -> [String] {
        fields.filter { bytes.fieldName($0, is: lowercase) }.map { $0.value(in: bytes) }
    }
}

extension HTTPMethod {
    /// The methods NIO's encoder always frames a body for (POST, PUT, PATCH).
    var expectsRequestBody: Bool {
        switch self {
        case .POST, .PUT, .PATCH: true
        default: false
        }
    }
}
