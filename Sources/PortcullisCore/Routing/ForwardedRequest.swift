/// The request a forward-auth call (`/.portcullis/verify`) asks about: nginx `auth_request`,
/// ingress-nginx, Traefik `forwardAuth` and Caddy `forward_auth` send the original method,
/// host and URI in headers. Those headers are believed **only from a trusted proxy**: from
/// anyone else they would let a client ask about a public path while fetching a protected one,
/// so the call's own method, host and path are judged instead.
public struct ForwardedRequest: Equatable, Sendable {
    public var method: String
    /// `host[:port]`, validated like a `Host` header.
    public var host: String?
    /// The original target in origin form (`/path?query`), to be canonicalized like any target.
    public var uri: String
    /// `http` or `https`, when the proxy said (`X-Forwarded-Proto` or the `X-Original-URL` scheme).
    public var scheme: String?

    /// - Parameters:
    ///   - values: the call's values of a header (lowercase name), in order.
    ///   - trusted: whether the call's peer is in `trustedProxies`.
    public static func read(
        method: String, host: String?, uri: String, values: (String) -> [String], trusted: Bool
    ) -> Result<ForwardedRequest, RequestTarget.Rejection> {
        guard trusted else { return .success(ForwardedRequest(method: method, host: host, uri: uri, scheme: nil)) }
        func single(_ names: String...) -> Result<String?, RequestTarget.Rejection> {
            for name in names {
                let found = values(name)
                if found.count > 1 { return .failure(.init(reason: "more than one \(name) header")) }
                if let value = found.first { return .success(value) }
            }
            return .success(nil)
        }
        var request = ForwardedRequest(method: method, host: host, uri: uri, scheme: nil)
        do {
            if let forwarded = try single("x-forwarded-method", "x-original-method").get() {
                guard HeaderName.isToken(forwarded) else { return .failure(.init(reason: "invalid forwarded method")) }
                request.method = forwarded
            }
            if let scheme = try single("x-forwarded-proto").get() {
                request.scheme = scheme.lowercased()
            }
            if let original = try single("x-original-url").get() {
                // ingress-nginx: the whole URL, `https://app.contoso.org/path?q`.
                guard let parsed = Self.absolute(original) else { return .failure(.init(reason: "invalid X-Original-URL")) }
                (request.scheme, request.host, request.uri) = (parsed.scheme, parsed.authority, parsed.uri)
            } else {
                if let forwardedHost = try single("x-forwarded-host").get() { request.host = forwardedHost }
                if let forwardedURI = try single("x-forwarded-uri").get() { request.uri = forwardedURI }
            }
        } catch {
            return .failure(error)
        }
        if let scheme = request.scheme, scheme != "http" && scheme != "https" { return .failure(.init(reason: "invalid forwarded scheme")) }
        if let host = request.host, !RequestHost.isValid(host) { return .failure(.init(reason: "invalid forwarded host")) }
        guard request.uri.hasPrefix("/") else { return .failure(.init(reason: "the forwarded URI must be a path (/…)")) }
        return .success(request)
    }

    /// `scheme://authority/path?query` → its parts; nil for anything else (userinfo included).
    static func absolute(_ url: String) -> (scheme: String, authority: String, uri: String)? {
        guard let separator = url.range(of: "://") else { return nil }
        let scheme = url[..<separator.lowerBound].lowercased()
        let rest = url[separator.upperBound...]
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = String(rest[..<slash])
        guard scheme == "http" || scheme == "https", RequestHost.isValid(authority) else { return nil }
        let uri = rest[slash...]
        return (scheme, authority, uri.isEmpty ? "/" : String(uri))
    }
}
