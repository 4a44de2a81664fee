import NIOHTTP1
import PortcullisCore

/// Builds the request head sent upstream from the client's: header hygiene first (identity
/// and hop-by-hop fields dropped), then the gateway's own forwarding headers.
enum UpstreamRequest {
    struct Built {
        var head: HTTPRequestHead
        /// The client asked to switch protocols (WebSocket) and the upgrade is forwarded.
        var isUpgrade: Bool
    }

    static func build(
        from head: HTTPRequestHead,
        path: Substring,
        query: Substring?,
        route: RouteTarget,
        runtime: GatewayRuntime,
        peer: String,
        identity: Identity? = nil
    ) -> Built {
        let connectionValues = head.headers["connection"]
        let connectionTokens = connectionValues.isEmpty ? nil : HeaderRules.connectionTokens(connectionValues)
        let upgradeValue = head.headers.first(name: "upgrade")
        let isUpgrade = upgradeValue != nil && HeaderRules.connectionRequestsUpgrade(connectionValues)
        let isChunked = head.headers.contains(name: "transfer-encoding")

        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 6)
        var clientHost: String?
        var forwardedFor: [String] = []
        for (name, value) in head.headers {
            if name.utf8.count == 4, name.lowercased() == "host" {
                clientHost = value
            } else if name.utf8.count == 15, name.lowercased() == "x-forwarded-for" {
                forwardedFor.append(value)
            } else if name.utf8.count == 6, name.lowercased() == "expect" {
                // Answered by the gateway (100 Continue); the upstream gets the body directly.
                continue
            } else if name.utf8.count == 6, let cookies = runtime.signIn?.cookies, name.lowercased() == "cookie" {
                // Session and pending-login cookies are the gateway's: never forwarded.
                if let kept = CookieHeader.removing(cookies.isOurs, from: value) { headers.add(name: name, value: kept) }
            } else if !runtime.headerRules.stripsFromRequest(name, connectionTokens: connectionTokens) {
                headers.add(name: name, value: value)
            }
        }
        let host = route.config.preserveHost ? (clientHost ?? route.upstreamAuthority) : route.upstreamAuthority
        headers.replaceOrAdd(name: "Host", value: host)
        headers.add(name: "X-Forwarded-For", value: HeaderRules.appendingForwardedFor(forwardedFor, peer: peer))
        headers.add(name: "X-Forwarded-Proto", value: runtime.forwardedProto)
        if let clientHost { headers.add(name: "X-Forwarded-Host", value: clientHost) }
        headers.add(name: "X-Forwarded-Port", value: runtime.forwardedPort)
        if let identity { addIdentityHeaders(identity, names: runtime.config.identityHeaders, to: &headers) }
        if isUpgrade, let upgradeValue {
            headers.add(name: "Connection", value: "upgrade")
            headers.add(name: "Upgrade", value: upgradeValue)
        }
        if isChunked && !headers.contains(name: "content-length") {
            // Transfer-Encoding is hop-by-hop, but the body still needs framing on this hop.
            headers.add(name: "Transfer-Encoding", value: "chunked")
        }

        var uri = String(route.upstreamPath(for: path))
        if let query { uri += "?" + query }
        let upstreamHead = HTTPRequestHead(version: .http1_1, method: head.method, uri: uri, headers: headers)
        return Built(head: upstreamHead, isUpgrade: isUpgrade)
    }

    /// The signed-in user's identity, under the configured header names. Values were checked
    /// for control characters when the identity was built; lists are comma-separated.
    static func addIdentityHeaders(_ identity: Identity, names: IdentityHeaderNames, to headers: inout HTTPHeaders) {
        headers.add(name: names.user, value: identity.username)
        if let email = identity.email { headers.add(name: names.email, value: email) }
        if let name = identity.displayName { headers.add(name: names.name, value: name) }
        if !identity.roles.isEmpty { headers.add(name: names.roles, value: identity.roles.joined(separator: ",")) }
        if !identity.groups.isEmpty { headers.add(name: names.groups, value: identity.groups.joined(separator: ",")) }
        headers.add(name: names.authMethod, value: identity.method.rawValue)
    }

    /// The response head passed to the client: hop-by-hop fields (and those the upstream's
    /// `Connection` lists) removed; the client connection's own persistence decided here.
    static func clientResponseHead(
        from head: HTTPResponseHead,
        runtime: GatewayRuntime,
        clientVersion: HTTPVersion,
        keepAlive: Bool,
        isUpgrade: Bool
    ) -> HTTPResponseHead {
        let connectionValues = head.headers["connection"]
        let tokens = connectionValues.isEmpty ? nil : HeaderRules.connectionTokens(connectionValues)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 1)
        for (name, value) in head.headers {
            if isUpgrade, name.lowercased() == "upgrade" || name.lowercased() == "connection" {
                headers.add(name: name, value: value)
            } else if !runtime.headerRules.stripsFromResponse(name, connectionTokens: tokens) {
                headers.add(name: name, value: value)
            }
        }
        if head.headers.contains(name: "transfer-encoding") && !headers.contains(name: "content-length") {
            headers.add(name: "Transfer-Encoding", value: "chunked")
        }
        if !isUpgrade {
            if !keepAlive {
                headers.add(name: "Connection", value: "close")
            } else if clientVersion.minor == 0 {
                headers.add(name: "Connection", value: "keep-alive")
            }
        }
        return HTTPResponseHead(version: clientVersion, status: head.status, headers: headers)
    }
}
