/// Chooses the route for a request: the most specific host tier first (exact host, then
/// `*.domain`, then routes for any host), and within it the longest matching path prefix.
/// Built once per config; matching allocates nothing.
public struct RouteTable: Sendable {
    public let routes: [RouteConfig]
    /// Route indices per tier, each sorted by descending prefix length.
    private let exact: [String: [Int]]
    private let wildcard: [String: [Int]]
    private let anyHost: [Int]

    public init(routes: [RouteConfig]) {
        self.routes = routes
        var exact: [String: [Int]] = [:], wildcard: [String: [Int]] = [:], anyHost: [Int] = []
        for (index, route) in routes.enumerated() {
            switch route.host {
            case nil: anyHost.append(index)
            case let host? where host.hasPrefix("*."): wildcard[String(host.dropFirst(2)), default: []].append(index)
            case let host?: exact[host, default: []].append(index)
            }
        }
        let longestFirst = { (indices: [Int]) in
            indices.sorted { routes[$0].pathPrefix.utf8.count > routes[$1].pathPrefix.utf8.count }
        }
        self.exact = exact.mapValues(longestFirst)
        self.wildcard = wildcard.mapValues(longestFirst)
        self.anyHost = longestFirst(anyHost)
    }

    /// The index of the route for `host` (a `Host` header value, port allowed) and `path`.
    public func match(host: String?, path: Substring) -> Int? {
        if !exact.isEmpty || !wildcard.isEmpty, let host = host.map(Self.hostName) {
            if let candidates = exact[host], let found = firstMatch(candidates, path) { return found }
            if let dot = host.firstIndex(of: "."),
                let candidates = wildcard[String(host[host.index(after: dot)...])],
                let found = firstMatch(candidates, path)
            {
                return found
            }
        }
        return firstMatch(anyHost, path)
    }

    private func firstMatch(_ candidates: [Int], _ path: Substring) -> Int? {
        candidates.first { Self.prefix(routes[$0].pathPrefix, matches: path) }
    }

    /// Whole-segment prefix match: `/app` matches `/app` and `/app/…`, not `/apps`.
    public static func prefix(_ prefix: String, matches path: Substring) -> Bool {
        if prefix == "/" { return true }
        guard path.hasPrefix(prefix) else { return false }
        let rest = path.utf8.dropFirst(prefix.utf8.count)
        return rest.isEmpty || rest.first == UInt8(ascii: "/")
    }

    /// The lowercased host of a `Host` value, without port or IPv6 brackets' port.
    static func hostName(_ value: String) -> String {
        var host = Substring(value)
        if host.hasPrefix("[") {
            if let close = host.firstIndex(of: "]") { host = host[host.index(after: host.startIndex)..<close] }
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        if host.hasSuffix(".") { host = host.dropLast() }
        return host.lowercased()
    }
}
