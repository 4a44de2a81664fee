import NIOCore
import NIOHTTP1
import PortcullisCore

/// Writes the request head sent upstream from the client's, and the response head sent back:
/// header hygiene first (identity and hop-by-hop fields dropped), then the gateway's own
/// forwarding headers. Heads go straight into bytes (see `HTTPHeadWriter`).
enum UpstreamRequest {
    struct Encoded {
        var head: ByteBuffer
        /// The client asked to switch protocols (WebSocket) and the upgrade is forwarded.
        var isUpgrade: Bool
        /// How the request body is framed on the upstream hop.
        var framing: BodyFraming
    }

    static func encode(
        from head: HTTPRequestHead,
        path: Substring,
        query: Substring?,
        route: RouteTarget,
        runtime: GatewayRuntime,
        peer: String,
        identity: Identity? = nil,
        allocator: ByteBufferAllocator
    ) -> Encoded {
        // The fields that change how the others are treated, found first: `Connection` may
        // name further hop-by-hop fields anywhere in the head.
        var connectionValues: [String] = []
        var upgradeValue: String?
        var isChunked = false
        for (name, value) in head.headers {
            switch name.utf8.count {
            case 10 where fieldName(name, is: "connection"): connectionValues.append(value)
            case 7 where upgradeValue == nil && fieldName(name, is: "upgrade"): upgradeValue = value
            case 17 where fieldName(name, is: "transfer-encoding"): isChunked = true
            default: break
            }
        }
        let connectionTokens = connectionValues.isEmpty ? nil : HeaderRules.connectionTokens(connectionValues)
        let isUpgrade = upgradeValue != nil && HeaderRules.connectionRequestsUpgrade(connectionValues)
        // TRACE carries no body (RFC 9110 §9.3.8): its framing fields are dropped, as NIO does.
        let isTrace = head.method == .TRACE

        var buffer = allocator.buffer(capacity: 384 + head.uri.utf8.count)
        buffer.writeRequestLine(method: head.method, base: route.config.upstream.path, path: route.upstreamRest(for: path), query: query)
        var clientHost: String?
        var forwardedFor: [String] = []
        var hasContentLength = false
        let ourCookies = runtime.signIn?.cookies
        for (name, value) in head.headers {
            switch name.utf8.count {
            case 4 where fieldName(name, is: "host"):
                clientHost = value
                continue
            case 15 where fieldName(name, is: "x-forwarded-for"):
                forwardedFor.append(value)
                continue
            case 6 where fieldName(name, is: "expect"):
                // Answered by the gateway (100 Continue); the upstream gets the body directly.
                continue
            case 6 where ourCookies != nil && fieldName(name, is: "cookie"):
                // Session and pending-login cookies are the gateway's: never forwarded.
                if let kept = CookieHeader.removing(ourCookies!.isOurs, from: value) { buffer.writeHeaderField(name, kept) }
                continue
            case 14 where fieldName(name, is: "content-length"):
                if isTrace { continue }
                hasContentLength = true
            default:
                break
            }
            if !runtime.headerRules.stripsFromRequest(name, connectionTokens: connectionTokens) {
                buffer.writeHeaderField(name, value)
            }
        }
        let host = route.config.preserveHost ? (clientHost ?? route.upstreamAuthority) : route.upstreamAuthority
        buffer.writeHeaderField("Host", host)
        if forwardedFor.isEmpty {
            buffer.writeHeaderField("X-Forwarded-For", peer)
        } else {
            buffer.writeHeaderField("X-Forwarded-For", HeaderRules.appendingForwardedFor(forwardedFor, peer: peer))
        }
        buffer.writeHeaderField("X-Forwarded-Proto", runtime.forwardedProto)
        if let clientHost { buffer.writeHeaderField("X-Forwarded-Host", clientHost) }
        buffer.writeHeaderField("X-Forwarded-Port", runtime.forwardedPort)
        if let identity { writeIdentityHeaders(identity, names: runtime.config.identityHeaders, to: &buffer) }
        if isUpgrade, let upgradeValue {
            buffer.writeHeaderField("Connection", "upgrade")
            buffer.writeHeaderField("Upgrade", upgradeValue)
        }
        let framing: BodyFraming
        if hasContentLength || isTrace {
            framing = .plain
        } else if isChunked || head.method.expectsRequestBody {
            // Transfer-Encoding is hop-by-hop, but the body still needs framing on this hop;
            // methods that expect a body get chunked framing even without one, as NIO does.
            buffer.writeHeaderField("Transfer-Encoding", "chunked")
            framing = .chunked
        } else {
            framing = .plain
        }
        buffer.writeHeadEnd()
        return Encoded(head: buffer, isUpgrade: isUpgrade, framing: framing)
    }

    /// The signed-in user's identity, under the configured header names. Values were checked
    /// for control characters when the identity was built; lists are comma-separated.
    static func writeIdentityHeaders(_ identity: Identity, names: IdentityHeaderNames, to buffer: inout ByteBuffer) {
        buffer.writeHeaderField(names.user, identity.username)
        if let email = identity.email { buffer.writeHeaderField(names.email, email) }
        if let name = identity.displayName { buffer.writeHeaderField(names.name, name) }
        if !identity.roles.isEmpty { buffer.writeHeaderField(names.roles, identity.roles.joined(separator: ",")) }
        if !identity.groups.isEmpty { buffer.writeHeaderField(names.groups, identity.groups.joined(separator: ",")) }
        buffer.writeHeaderField(names.authMethod, identity.method.rawValue)
    }

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
        from head: HTTPResponseHead,
        runtime: GatewayRuntime,
        requestMethod: HTTPMethod,
        clientVersion: HTTPVersion,
        keepAlive: Bool,
        isUpgrade: Bool,
        into buffer: inout ByteBuffer
    ) -> ResponseFraming {
        var connectionValues: [String] = []
        var hasContentLength = false
        for (name, value) in head.headers {
            switch name.utf8.count {
            case 10 where fieldName(name, is: "connection"): connectionValues.append(value)
            case 14 where fieldName(name, is: "content-length"): hasContentLength = true
            default: break
            }
        }
        let tokens = connectionValues.isEmpty ? nil : HeaderRules.connectionTokens(connectionValues)
        // Informational, 204 and 304 answers and answers to CONNECT have no body and no
        // framing fields (RFC 9112 §6.3), as NIO's encoder has it.
        let bodyless = !head.status.mayHaveResponseBody || requestMethod == .CONNECT
        var keepAlive = keepAlive
        // An HTTP/1.0 client learns where a body without Content-Length ends only by the close.
        if clientVersion.minor == 0 && !hasContentLength && !bodyless { keepAlive = false }

        buffer.writeStatusLine(version: clientVersion, status: head.status)
        for (name, value) in head.headers {
            switch name.utf8.count {
            case 7 where isUpgrade && fieldName(name, is: "upgrade"), 10 where isUpgrade && fieldName(name, is: "connection"):
                buffer.writeHeaderField(name, value)
                continue
            case 14 where bodyless && fieldName(name, is: "content-length"):
                continue
            default:
                break
            }
            if !runtime.headerRules.stripsFromResponse(name, connectionTokens: tokens) {
                buffer.writeHeaderField(name, value)
            }
        }
        var framing: BodyFraming
        if bodyless || hasContentLength {
            framing = .plain
        } else if clientVersion.minor >= 1 {
            buffer.writeHeaderField("Transfer-Encoding", "chunked")
            framing = .chunked
        } else {
            framing = .untilClose
        }
        // A HEAD answer describes a body it does not carry.
        if requestMethod == .HEAD { framing = .plain }
        if !isUpgrade {
            if !keepAlive {
                buffer.writeHeaderField("Connection", "close")
            } else if clientVersion.minor == 0 {
                buffer.writeHeaderField("Connection", "keep-alive")
            }
        }
        buffer.writeHeadEnd()
        return ResponseFraming(framing: framing, keepAlive: keepAlive)
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
