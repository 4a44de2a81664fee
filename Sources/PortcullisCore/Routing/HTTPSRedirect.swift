/// What the plain-HTTP redirect listener (`listen.httpRedirect`) answers: the same request on
/// HTTPS, for a host and path the gateway serves, and nothing else.
///
/// The `Location` is built from the request's own host, so the host is checked as strictly
/// as on the TLS listener (one `Host`, well formed, agreeing with an absolute-form target)
/// and must be one a route serves: the listener never redirects to a host the gateway does
/// not answer for. The path is the canonical one the TLS listener would route on.
public struct HTTPSRedirect: Sendable {
    public enum Answer: Sendable, Equatable {
        /// 301 for GET and HEAD (cached by browsers), 308 otherwise (keeps method and body).
        case redirect(status: Int, location: String)
        case badRequest(reason: String)
        case notFound
    }

    let routes: RouteTable
    /// The port clients reach the TLS listener on: the public URL's when it is HTTPS (a
    /// container's 8443 published as 443), else the listener's.
    let httpsPort: Int

    public init(routes: RouteTable, httpsPort: Int) {
        self.routes = routes
        self.httpsPort = httpsPort
    }

    public func answer(method: String, uri: String, hostValues: [String], httpMinorVersion: Int) -> Answer {
        let target: RequestTarget
        switch RequestTarget.parse(uri) {
        case .success(let parsed): target = parsed
        case .failure(let rejection): return .badRequest(reason: rejection.reason)
        }
        let host: String
        switch RequestHost.resolve(hostValues: hostValues, absoluteAuthority: target.authority, httpMinorVersion: httpMinorVersion) {
        case .success(let value?): host = value
        case .success(nil): return .badRequest(reason: "missing Host header")
        case .failure(let rejection): return .badRequest(reason: rejection.reason)
        }
        guard routes.match(host: host, path: target.path) != nil else { return .notFound }
        var location = "https://" + Self.hostname(of: host)
        if httpsPort != 443 { location += ":\(httpsPort)" }
        location += target.path
        if let query = target.query { location += "?" + query }
        let keepsMethod = method == "GET" || method == "HEAD"
        return .redirect(status: keepsMethod ? 301 : 308, location: location)
    }

    /// `host[:port]` without its port (a bracketed IPv6 address keeps its brackets).
    static func hostname(of host: String) -> Substring {
        if host.hasPrefix("[") {
            return host.firstIndex(of: "]").map { host[...$0] } ?? Substring(host)
        }
        return host.firstIndex(of: ":").map { host[..<$0] } ?? Substring(host)
    }
}
