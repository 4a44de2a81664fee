/// Decides whether a return URL (`rd=` after sign-in, `post_logout_redirect_uri` after
/// sign-out) may go into a `Location` header.
///
/// Threat model: the value comes from whoever crafted the link. If the gateway redirected
/// anywhere it was told to, a link to the real sign-in page would end on an attacker's
/// look-alike site (phishing with our domain in the address bar), and a `javascript:` or
/// `data:` value would run script in our origin. So only two shapes pass, and the value is
/// returned unchanged (never normalised, so what was checked is what the browser gets):
/// - a same-origin absolute path, `/app/x?y=1#z`;
/// - an absolute `http(s)` URL whose origin is the public URL's, or whose host is on the
///   allowed list (`https` only when the gateway itself is served over `https`).
///
/// Browsers (WHATWG URL parsing) are lenient where this check is strict: they drop tab, CR
/// and LF anywhere, trim leading spaces and controls, read `\` as `/`, accept `https:host`
/// and `http:/host`, and take everything before `@` as credentials. Each of those turns a
/// value that looks like a path into another host, so such values are refused outright
/// rather than parsed the browser's way. Because some upstream or intermediary may decode
/// the value again, every percent-decoding level (up to ``maximumDecodingDepth``) must be
/// just as harmless: no encoded controls or whitespace, no `//` or `/\` start, and no dot
/// segments that would collapse into one. Refused values fall back to `/`.
public struct RedirectGuard: Sendable {
    /// Longer values are refused: no real return URL needs more, and a cap keeps the sealed
    /// pending-login state and the `Location` header small.
    public static let maximumLength = 2048
    /// How many rounds of percent-decoding are inspected; a value still changing after that
    /// is nested deeper than any honest link and is refused.
    public static let maximumDecodingDepth = 4

    /// The gateway's public URL; absolute return URLs with its exact origin are accepted.
    public let publicURL: HTTPURL
    /// Other hosts a return URL may point at, such as sibling applications.
    public let allowedHosts: [AllowedHost]

    public init(publicURL: HTTPURL, allowedHosts: [AllowedHost] = []) {
        self.publicURL = publicURL
        self.allowedHosts = allowedHosts
    }

    /// The value to put in `Location`, or nil when the caller must fall back to `/`.
    public func validate(_ raw: String) -> String? {
        try? check(raw).get()
    }

    /// Like ``validate(_:)`` but says why a value was refused, for the audit log. The reason
    /// never quotes the value: it is attacker-chosen and may carry log-injection bytes.
    public func check(_ raw: String) -> Result<String, Rejection> {
        let bytes = Array(raw.utf8)
        if let reason = Self.literalProblem(bytes) { return .failure(Rejection(reason: reason)) }
        let isPath = bytes[0] == UInt8(ascii: "/")
        if isPath {
            if bytes.count > 1 && bytes[1] == UInt8(ascii: "/") {
                return .failure(Rejection(reason: "scheme-relative URL"))
            }
        } else {
            guard let (scheme, authority) = Self.splitAbsolute(bytes) else {
                return .failure(Rejection(reason: "neither an absolute path nor an http(s) URL"))
            }
            guard let (host, port) = Self.parseAuthority(authority) else {
                return .failure(Rejection(reason: "malformed host, or credentials in the URL"))
            }
            guard isAllowed(scheme: scheme, host: host, port: port ?? (scheme == "https" ? 443 : 80)) else {
                return .failure(Rejection(reason: "host is not allowed"))
            }
        }
        if isPath && Self.collapsesToSchemeRelative(bytes) {
            return .failure(Rejection(reason: "dot segments collapse into a scheme-relative URL"))
        }
        var level = bytes
        for depth in 1...(Self.maximumDecodingDepth + 1) {
            let decoded = Self.percentDecoded(level)
            if decoded == level { break }
            if depth > Self.maximumDecodingDepth {
                return .failure(Rejection(reason: "percent-encoding nested too deep"))
            }
            if let reason = Self.decodedProblem(decoded, isPath: isPath) { return .failure(Rejection(reason: reason)) }
            level = decoded
        }
        return .success(raw)
    }

    /// Whether `scheme://host:port` is the gateway's own origin or an allowed host's.
    func isAllowed(scheme: String, host: String, port: Int) -> Bool {
        if scheme == publicURL.scheme && host == publicURL.host && port == publicURL.port { return true }
        // A gateway served over https must not send a freshly signed-in user to plain http.
        if publicURL.isTLS && scheme != "https" { return false }
        let defaultPort = scheme == "https" ? 443 : 80
        return allowedHosts.contains { $0.host == host && ($0.port ?? defaultPort) == port }
    }

    /// Checks on the value as the browser will see it: length, and only printable ASCII
    /// without `\` (which browsers read as `/`). Raw controls, spaces and non-ASCII are
    /// refused: the first two are dropped or trimmed by browsers, and no honest return URL
    /// (captured from a request target) contains any of them unencoded.
    static func literalProblem(_ bytes: [UInt8]) -> String? {
        if bytes.isEmpty { return "empty" }
        if bytes.count > maximumLength { return "longer than \(maximumLength) bytes" }
        for byte in bytes {
            if byte <= 0x20 || byte >= 0x7f { return "control character, whitespace or non-ASCII byte" }
            if byte == UInt8(ascii: "\\") { return "backslash" }
        }
        return nil
    }

    /// Checks on one percent-decoding level. A literal `%20` inside is allowed (paths and
    /// queries carry spaces) since a space after the first character cannot move the origin;
    /// controls and every other whitespace or invisible format character are refused.
    static func decodedProblem(_ bytes: [UInt8], isPath: Bool) -> String? {
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7f }) { return "encoded control character" }
        if bytes.contains(where: { $0 >= 0x80 }) {
            for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars where scalar.value >= 0x80 {
                switch scalar.properties.generalCategory {
                case .control, .format, .lineSeparator, .paragraphSeparator, .spaceSeparator:
                    return "encoded whitespace or invisible character"
                default:
                    if scalar.properties.isWhitespace { return "encoded whitespace or invisible character" }
                }
            }
        }
        if isPath {
            if bytes.count > 1 && (bytes[1] == UInt8(ascii: "/") || bytes[1] == UInt8(ascii: "\\")) {
                return "encoded scheme-relative or backslash start"
            }
            if collapsesToSchemeRelative(bytes) { return "encoded dot segments collapse into a scheme-relative URL" }
        }
        return nil
    }

    /// Whether removing dot segments (RFC 3986 §5.2.4, `%2e` counted as `.` and `\` as `/`,
    /// as browsers do) leaves a path starting with `//`. `/.//evil.com` is harmless to a
    /// browser, but a consumer that normalises the path and then redirects to it would go
    /// to `//evil.com`.
    static func collapsesToSchemeRelative(_ bytes: [UInt8]) -> Bool {
        let pathEnd = bytes.firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? bytes.endIndex
        let path = bytes[..<pathEnd].map { $0 == UInt8(ascii: "\\") ? UInt8(ascii: "/") : $0 }
        let segments = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        guard segments.contains(where: { dotCount($0) != nil }) else { return false }
        var output: [ArraySlice<UInt8>] = []
        for (offset, segment) in segments.enumerated() {
            let isLast = offset == segments.count - 1
            switch dotCount(segment) {
            case 1: if isLast { output.append([]) }
            case 2:
                if !output.isEmpty { output.removeLast() }
                if isLast { output.append([]) }
            default: output.append(segment)
            }
        }
        return output.count > 1 && output[0].isEmpty
    }

    /// 1 for `.`, 2 for `..` (each dot literal or `%2e`), nil for any other segment.
    static func dotCount(_ segment: ArraySlice<UInt8>) -> Int? {
        var dots = 0
        var index = segment.startIndex
        while index < segment.endIndex {
            if segment[index] == UInt8(ascii: ".") {
                index += 1
            } else if segment[index] == UInt8(ascii: "%"), segment.endIndex - index >= 3,
                RequestTarget.hexByte(segment[index + 1], segment[index + 2]) == UInt8(ascii: ".")
            {
                index += 3
            } else {
                return nil
            }
            dots += 1
        }
        return dots == 1 || dots == 2 ? dots : nil
    }

    /// One round of percent-decoding; malformed escapes stay as they are.
    static func percentDecoded(_ bytes: [UInt8]) -> [UInt8] {
        guard bytes.contains(UInt8(ascii: "%")) else { return bytes }
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "%"), index + 2 < bytes.count,
                let byte = RequestTarget.hexByte(bytes[index + 1], bytes[index + 2])
            {
                result.append(byte)
                index += 3
            } else {
                result.append(bytes[index])
                index += 1
            }
        }
        return result
    }

    /// The lowercased scheme and the authority of `http://…` or `https://…`. Exactly two
    /// slashes are required: `https:evil.com` and `http:/evil.com` are refused, not guessed.
    static func splitAbsolute(_ bytes: [UInt8]) -> (scheme: String, authority: ArraySlice<UInt8>)? {
        for scheme in ["https", "http"] {
            let prefix = Array((scheme + "://").utf8)
            guard bytes.count >= prefix.count,
                zip(bytes, prefix).allSatisfy({ lowercasedASCII($0) == $1 })
            else { continue }
            let rest = bytes[prefix.count...]
            let end =
                rest.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }
                ?? rest.endIndex
            return (scheme, rest[..<end])
        }
        return nil
    }

    /// `host`, `host:port`, `[v6]` or `[v6]:port`, with the host lowercased and brackets
    /// removed; nil for anything else. `@` (credentials: `https://good.com@evil.com` goes to
    /// evil.com), `%`, an empty host and an empty or non-numeric port are all refused, so
    /// `good.com:443.evil.com` cannot pass as `good.com`.
    static func parseAuthority(_ authority: ArraySlice<UInt8>) -> (host: String, port: Int?)? {
        let hostPart: ArraySlice<UInt8>
        let portPart: ArraySlice<UInt8>?
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            hostPart = authority[(authority.startIndex + 1)..<close]
            let after = authority[(close + 1)...]
            if after.isEmpty {
                portPart = nil
            } else {
                guard after.first == UInt8(ascii: ":") else { return nil }
                portPart = after.dropFirst()
            }
            guard hostPart.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { return nil }
        } else {
            if let colon = authority.firstIndex(of: UInt8(ascii: ":")) {
                hostPart = authority[..<colon]
                portPart = authority[(colon + 1)...]
            } else {
                hostPart = authority
                portPart = nil
            }
            guard hostPart.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
            else { return nil }
        }
        guard !hostPart.isEmpty else { return nil }
        var port: Int?
        if let portPart {
            guard !portPart.isEmpty, portPart.count <= 5, portPart.allSatisfy(isDigit),
                let value = Int(String(decoding: portPart, as: UTF8.self)), (1...65535).contains(value)
            else { return nil }
            port = value
        }
        return (String(decoding: hostPart.map(lowercasedASCII), as: UTF8.self), port)
    }

    static func lowercasedASCII(_ byte: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte + 32 : byte
    }

    static func isDigit(_ byte: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) }

    static func isHexDigit(_ byte: UInt8) -> Bool { RequestTarget.hexValue(byte) != nil }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        isDigit(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(lowercasedASCII(byte))
    }

    /// Why a return URL was refused.
    public struct Rejection: Error, Sendable, Equatable {
        public var reason: String
    }
}

extension RedirectGuard {
    /// A host a return URL may point at besides the gateway's own origin. Matched exactly
    /// (no wildcards, no suffix match: `good.com.evil.com` and `evilgood.com` are other
    /// hosts). Without a port only the scheme's default port matches, so another service on
    /// the same host is not allowed by accident.
    public struct AllowedHost: Sendable, Hashable, CustomStringConvertible {
        /// Lowercased; an IPv6 address without brackets.
        public var host: String
        public var port: Int?

        public var description: String {
            let hostPart = host.contains(":") ? "[\(host)]" : host
            return port.map { "\(hostPart):\($0)" } ?? hostPart
        }

        /// Parses `host` or `host:port` (`[v6]:port` for IPv6), case-insensitively.
        public static func parse(_ text: String) -> Result<AllowedHost, ParseFailure> {
            guard let (host, port) = RedirectGuard.parseAuthority(ArraySlice(text.utf8)) else {
                return .failure(ParseFailure(reason: "\"\(text)\" is not a host name or host:port"))
            }
            return .success(AllowedHost(host: host, port: port))
        }

        public struct ParseFailure: Error, Sendable {
            public var reason: String
        }
    }
}
