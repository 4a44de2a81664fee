/// One route: which requests it takes (host and path prefix) and where they go.
public struct RouteConfig: ConfigSection, Sendable {
    public var name: String
    /// Exact host (`app.contoso.org`) or one-level wildcard (`*.contoso.org`), lowercased;
    /// nil matches any host.
    public var host: String?
    /// Path prefix, matched on whole segments: `/app` takes `/app` and `/app/x`, not `/apps`.
    public var pathPrefix: String
    /// Match `pathPrefix` ignoring ASCII letter case, for upstreams that do (IIS, other
    /// Windows servers), where `/ADMIN` is `/admin` and must take the same route.
    public var caseInsensitive: Bool
    public var upstream: HTTPURL
    /// No sign-in required. Identity headers are still stripped from client requests.
    public var isPublic: Bool
    /// Send the client's `Host` upstream instead of the upstream's own authority.
    public var preserveHost: Bool
    /// Remove `pathPrefix` from the path before forwarding (`/app/x` → `/x`).
    public var stripPrefix: Bool
    public var timeouts: RouteTimeouts
    /// How an `https` upstream is verified (and how the gateway authenticates to it).
    public var tls: UpstreamTLSConfig?
    /// Who may use this protected route (`allow` and `deny`); no rules: anyone signed in.
    public var policy: RoutePolicy
    /// What this route's upstream is told about the user (defaults: `identityHeaders`).
    public var headers: RouteHeadersConfig
    /// Roles and groups → the app's permission names, sent in the permissions header.
    public var permissions: PermissionMap
    /// An Entra Conditional Access authentication context (`c1`…`c99`) the session's ID token
    /// must carry in `acrs`; a session without it is sent back to Entra to step up.
    public var authContext: String?

    public static var fields: [ConfigField] {
        [
            .value("name"), .value("host"), .value("pathPrefix"), .value("caseInsensitive"), .value("upstream"),
            .value("public"), .array("allow", of: AccessRule.self), .array("deny", of: AccessRule.self),
            .value("authContext"), .object("headers", RouteHeadersConfig.self), .value("permissions"), .value("preserveHost"), .value("stripPrefix"),
            .object("timeouts", RouteTimeouts.self), .object("tls", UpstreamTLSConfig.self),
        ]
    }

    public init(reading reader: ConfigObjectReader) {
        name = reader.string("name", default: reader.path)
        if name.isEmpty { reader.fail("name", "must not be empty") }

        host = reader.string("host").map { $0.lowercased() }
        if let host, !Self.isValidHostPattern(host) {
            reader.fail("host", "\"\(host)\" is not a host name or *.domain pattern (no scheme, port or path)")
        }

        pathPrefix = reader.string("pathPrefix", default: "/")
        if !pathPrefix.hasPrefix("/") {
            reader.fail("pathPrefix", "\"\(pathPrefix)\" must start with \"/\"")
        } else if RequestTarget.validate(pathPrefix) != nil || pathPrefix.contains("?") {
            reader.fail("pathPrefix", "\"\(pathPrefix)\" must be a plain canonical path (no query, dot segments, encoded separators, `//`, or percent-encoded letters and digits)")
        }
        if pathPrefix.count > 1 && pathPrefix.hasSuffix("/") { pathPrefix.removeLast() }
        caseInsensitive = reader.bool("caseInsensitive", default: false)

        upstream = HTTPURL(scheme: "http", host: "invalid", port: 80, path: "")
        if let text = reader.string("upstream") {
            switch HTTPURL.parse(text) {
            case .success(let url):
                upstream = url
            case .failure(let failure):
                reader.fail("upstream", failure.reason)
            }
        } else {
            reader.fail("upstream", "is required")
        }

        isPublic = reader.bool("public", default: false)
        policy = RoutePolicy(allow: reader.sectionOrSections("allow"), deny: reader.sectionOrSections("deny"))
        authContext = reader.string("authContext")
        if isPublic {
            for key in ["allow", "deny", "authContext"] where reader.has(key) {
                reader.fail(key, "a public route admits everyone; remove \(key) or set public to false")
            }
        }
        if let context = authContext, !Self.isAuthContextID(context) {
            reader.fail("authContext", "\"\(TextCheck.quotable(context))\" is not an authentication context id (c1 to c99, as Entra names them)")
        }
        headers = reader.optionalSection("headers") ?? RouteHeadersConfig()
        permissions = PermissionMap(reading: reader.object("permissions") ?? [:]) { key, reason in reader.fail("permissions.\(key)", reason) }
        preserveHost = reader.bool("preserveHost", default: false)
        stripPrefix = reader.bool("stripPrefix", default: false)
        timeouts = reader.section("timeouts")
        tls = reader.optionalSection("tls")
        if tls != nil && !upstream.isTLS {
            reader.fail("tls", "is for an https upstream; this one is \(upstream.scheme)")
        }
    }

    /// Entra's authentication context ids: `c1` to `c99`.
    public static func isAuthContextID(_ text: String) -> Bool {
        guard text.hasPrefix("c"), let number = Int(text.dropFirst()), String(number) == text.dropFirst() else { return false }
        return (1...99).contains(number)
    }

    static func isValidHostPattern(_ host: String) -> Bool {
        var labels = host.split(separator: ".", omittingEmptySubsequences: false)
        if labels.first == "*" { labels.removeFirst() }
        guard !labels.isEmpty else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }
}

/// How long the gateway waits on a route's upstream before answering 504.
public struct RouteTimeouts: ConfigSection, Sendable {
    /// Seconds to open a TCP connection to the upstream.
    public var connect: Double
    /// Seconds from sending the request to receiving the response head.
    public var response: Double
    /// Seconds without any bytes either way while a body streams.
    public var idle: Double

    public static var fields: [ConfigField] { [.value("connect"), .value("response"), .value("idle")] }

    public init(reading reader: ConfigObjectReader) {
        connect = reader.seconds("connect", default: 5, in: 0.05...300)
        response = reader.seconds("response", default: 60, in: 0.05...3_600)
        idle = reader.seconds("idle", default: 300, in: 0.05...86_400)
    }
}

/// `routes[].tls`: verifying an `https` upstream (certificate verification is on by default,
/// against the system's roots or `caFile`) and, optionally, a client certificate (mTLS).
public struct UpstreamTLSConfig: ConfigSection, Sendable {
    /// PEM certificates trusted for this upstream instead of the system's roots (an internal CA).
    public var caPEM: String?
    public var certificatePEM: String?
    public var keyPEM: Secret?
    /// Turns verification off: for a lab only; the gateway warns loudly at every start.
    public var insecureSkipVerify: Bool

    public static var fields: [ConfigField] {
        [.value("caFile"), .value("certificateFile"), .value("keyFile"), .value("insecureSkipVerify")]
    }

    public init(reading reader: ConfigObjectReader) {
        caPEM = reader.pemFile("caFile", holding: .certificate)
        certificatePEM = reader.pemFile("certificateFile", holding: .certificate)
        keyPEM = reader.pemFile("keyFile", holding: .privateKey).map(Secret.init)
        if reader.has("certificateFile") != reader.has("keyFile") {
            reader.failHere("a client certificate needs both certificateFile and keyFile")
        }
        insecureSkipVerify = reader.bool("insecureSkipVerify", default: false)
        if insecureSkipVerify && caPEM != nil { reader.fail("insecureSkipVerify", "contradicts caFile: verify against the CA, or do not verify") }
    }

    /// What distinguishes connections made under this configuration, so pooled connections
    /// are reused only under the same trust and identity.
    public var poolIdentity: String {
        [caPEM ?? "-", certificatePEM ?? "-", insecureSkipVerify ? "insecure" : "verify"].joined(separator: "|")
    }
}
