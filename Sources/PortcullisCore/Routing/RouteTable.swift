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
        // Between prefixes of one length that both match, the case-sensitive one is the more
        // specific; the file order only settles what is left, so the choice never varies.
        let longestFirst = { (indices: [Int]) in
            indices.sorted { a, b in
                let (left, right) = (routes[a], routes[b])
                if left.pathPrefix.utf8.count != right.pathPrefix.utf8.count {
                    return left.pathPrefix.utf8.count > right.pathPrefix.utf8.count
                }
                if left.caseInsensitive != right.caseInsensitive { return !left.caseInsensitive }
                return a < b
            }
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
        candidates.first { Self.prefix(routes[$0].pathPrefix, matches: path, caseInsensitive: routes[$0].caseInsensitive) }
    }

    /// Whole-segment prefix match: `/app` matches `/app` and `/app/…`, not `/apps`.
    ///
    /// A segment's `;parameters` (also `%3B…`) are skipped (`/app;jsessionid=1/x` matches
    /// `/app`), since servlet containers drop them before mapping the path. With `caseInsensitive`, ASCII
    /// letters match either case, as on IIS.
    public static func prefix(_ prefix: String, matches path: Substring, caseInsensitive: Bool = false) -> Bool {
        remainder(of: path, after: prefix, caseInsensitive: caseInsensitive) != nil
    }

    /// What follows `prefix` in `path` when it matches (see ``prefix(_:matches:caseInsensitive:)``):
    /// empty or starting with `/`, without the parameters of the prefix's last segment
    /// (`/app;x/y` after `/app` is `/y`). This is the path to forward when a route strips its
    /// prefix. nil when `prefix` does not match. Never allocates.
    public static func remainder(of path: Substring, after prefix: String, caseInsensitive: Bool = false) -> Substring? {
        if prefix == "/" { return path }
        let expected = prefix.utf8, actual = path.utf8
        var p = expected.startIndex, a = actual.startIndex
        while p != expected.endIndex {
            guard a != actual.endIndex else { return nil }
            let want = expected[p], got = actual[a]
            if want == got || (caseInsensitive && lowercasedASCII(want) == lowercasedASCII(got)) {
                expected.formIndex(after: &p)
                actual.formIndex(after: &a)
            } else if want == UInt8(ascii: "/") && startsParameters(actual, at: a) {
                a = endOfSegment(actual, from: a)
            } else {
                return nil
            }
        }
        if a != actual.endIndex && startsParameters(actual, at: a) { a = endOfSegment(actual, from: a) }
        guard a == actual.endIndex || actual[a] == UInt8(ascii: "/") else { return nil }
        return path[a...]
    }

    /// `;`, or `%3B` (canonical paths use uppercase hex): a decoding hop in front of a servlet
    /// container would turn `/admin%3Bx` into `/admin;x`, which is `/admin`.
    private static func startsParameters(_ bytes: Substring.UTF8View, at index: Substring.UTF8View.Index) -> Bool {
        switch bytes[index] {
        case UInt8(ascii: ";"): return true
        case UInt8(ascii: "%"): return bytes[bytes.index(after: index)...].starts(with: "3B".utf8)
        default: return false
        }
    }

    /// The index of the `/` that ends the segment containing `index`, or the end.
    private static func endOfSegment(_ bytes: Substring.UTF8View, from index: Substring.UTF8View.Index) -> Substring.UTF8View.Index {
        bytes[index...].firstIndex(of: UInt8(ascii: "/")) ?? bytes.endIndex
    }

    static func lowercasedASCII(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
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
