import Foundation

/// An absolute http(s) URL split into the parts the gateway uses (scheme, host, port, path).
public struct HTTPURL: Sendable, Equatable, CustomStringConvertible {
    public var scheme: String
    public var host: String
    public var port: Int
    /// Path without a trailing slash; empty for the root.
    public var path: String

    public var isTLS: Bool { scheme == "https" }

    /// `host:port` as a `Host` header value (the port left out when it is the default).
    public var authority: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return port == (isTLS ? 443 : 80) ? hostPart : "\(hostPart):\(port)"
    }

    /// The origin, `scheme://authority`, for same-origin checks.
    public var origin: String { "\(scheme)://\(authority)" }

    public var description: String { origin + path }

    /// Parses `text`, returning why it is unacceptable as a gateway or upstream URL.
    public static func parse(_ text: String) -> Result<HTTPURL, ParseFailure> {
        guard let components = URLComponents(string: text),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https"
        else { return .failure(.init(reason: "\"\(text)\" is not an http(s) URL")) }
        guard let rawHost = components.host, !rawHost.isEmpty else {
            return .failure(.init(reason: "\"\(text)\" has no host"))
        }
        if components.user != nil || components.password != nil {
            return .failure(.init(reason: "\"\(text)\" must not contain credentials"))
        }
        if components.query != nil || components.fragment != nil {
            return .failure(.init(reason: "\"\(text)\" must not have a query or fragment"))
        }
        var host = rawHost.lowercased()
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = components.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65535).contains(port) else { return .failure(.init(reason: "\"\(text)\" has an invalid port")) }
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        return .success(HTTPURL(scheme: scheme, host: host, port: port, path: path))
    }

    public struct ParseFailure: Error, Sendable {
        public var reason: String
    }
}
