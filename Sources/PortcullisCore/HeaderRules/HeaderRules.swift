/// Which request and response headers the proxy removes, and what it adds.
///
/// Pure rules over header names; the data plane applies them to NIO's header storage.
public struct HeaderRules: Sendable {
    /// Hop-by-hop fields (RFC 9110 §7.6.1, plus the legacy `Proxy-Connection` and
    /// `Proxy-Authorization`/`Proxy-Authenticate` meant for this hop only, and the h2c
    /// upgrade's `HTTP2-Settings`, RFC 9113 §3.2.1). Each describes one connection and must
    /// not be forwarded; `Connection` may list more.
    public static let hopByHop: Set<String> = [
        "connection", "proxy-connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
        "proxy-authorization", "proxy-authenticate", "http2-settings",
    ]

    /// Headers the gateway sets itself for the upstream; a client's copy is never trusted.
    public static let gatewaySet: [String] = ["X-Forwarded-Proto", "X-Forwarded-Host", "X-Forwarded-Port"]

    /// Identity headers plus gateway-set ones: removed from every client request, on every
    /// route, compared as CGI/PHP/IIS fold names (letter case ignored, `-`, `_`, `.` and any
    /// other non-alphanumeric byte alike).
    public let clientForbidden: HeaderNameSet
    private let hopByHopSet = HeaderNameSet(HeaderRules.hopByHop)

    /// - Parameter alsoStrip: further names the gateway writes (routes' own identity header
    ///   names and static headers).
    public init(identityHeaders: IdentityHeaderNames, alsoStrip: [String] = []) {
        clientForbidden = HeaderNameSet(identityHeaders.all + Self.gatewaySet + alsoStrip)
    }

    /// Whether a client request header must be dropped before forwarding. `connectionTokens`
    /// are the lowercased names the request's `Connection` header listed.
    public func stripsFromRequest(_ name: String, connectionTokens: HeaderNameSet?) -> Bool {
        // Most names miss every set on length alone.
        let length = name.utf8.count
        guard clientForbidden.mayContain(length: length) || mayBeHopByHop(length: length, connectionTokens) else { return false }
        var name = name
        return name.withUTF8 { bytes in
            clientForbidden.contains(bytes: bytes) || isHopByHop(bytes: bytes, connectionTokens: connectionTokens)
        }
    }

    /// Whether an upstream response header must be dropped before it reaches the client.
    public func stripsFromResponse(_ name: String, connectionTokens: HeaderNameSet?) -> Bool {
        guard mayBeHopByHop(length: name.utf8.count, connectionTokens) else { return false }
        var name = name
        return name.withUTF8 { isHopByHop(bytes: $0, connectionTokens: connectionTokens) }
    }

    private func mayBeHopByHop(length: Int, _ connectionTokens: HeaderNameSet?) -> Bool {
        hopByHopSet.mayContain(length: length) || (connectionTokens?.mayContain(length: length) ?? false)
    }

    public func isHopByHop(bytes: UnsafeBufferPointer<UInt8>, connectionTokens: HeaderNameSet?) -> Bool {
        hopByHopSet.contains(bytes: bytes) || (connectionTokens?.contains(bytes: bytes) ?? false)
    }

    /// Names a `Connection` header cannot make hop-by-hop.
    static let neverHopByHop: Set<String> = ["content-length", "transfer-encoding", "host"]

    /// The field names listed in `Connection` header values (`close`, `keep-alive` and
    /// `upgrade` included: they name hop-by-hop fields too). Nil when there are none, the
    /// common case, so no set is built.
    public static func connectionTokens<S: Sequence>(_ values: S) -> HeaderNameSet? where S.Element == String {
        var tokens: [String] = []
        for value in values {
            // The everyday values name nothing beyond the fixed hop-by-hop set.
            if value.utf8.count <= 10, ["keep-alive", "close", "upgrade"].contains(value.lowercased()) { continue }
            for token in value.split(separator: ",") {
                let trimmed = token.trimmingSpaces()
                // The fields that frame the message (and its host) are never dropped because
                // `Connection` names them: without its Content-Length a body would reach the
                // next hop unframed and read as another message (request smuggling).
                if trimmed.isEmpty || Self.neverHopByHop.contains(trimmed.lowercased()) { continue }
                tokens.append(trimmed)
            }
        }
        return tokens.isEmpty ? nil : HeaderNameSet(tokens)
    }

    /// Whether `Connection` values carry the `upgrade` token (a protocol switch request).
    public static func connectionRequestsUpgrade<S: Sequence>(_ values: S) -> Bool where S.Element == String {
        values.contains { value in
            value.split(separator: ",").contains { $0.trimmingSpaces().lowercased() == "upgrade" }
        }
    }

    /// `X-Forwarded-For` after this hop: the client's value (if any) with the peer address
    /// appended, as every proxy in a chain does.
    public static func appendingForwardedFor(_ existing: [String], peer: String) -> String {
        if existing.isEmpty { return peer }
        let prior = existing.map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        return (prior + [peer]).joined(separator: ", ")
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
