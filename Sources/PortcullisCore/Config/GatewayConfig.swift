import Foundation

/// The whole gateway configuration, as validated from JSON. Every section mirrors its JSON
/// object; defaults live in each section's reader, documented in `docs/configuration.md`.
public struct GatewayConfig: ConfigSection, Sendable {
    public var listen: ListenConfig
    /// The URL browsers use to reach the gateway; its scheme becomes `X-Forwarded-Proto`.
    public var publicURL: HTTPURL
    public var routes: [RouteConfig]
    public var identityHeaders: IdentityHeaderNames
    public var limits: LimitsConfig
    public var upstreamPool: UpstreamPoolConfig
    public var logging: LoggingConfig
    /// Microsoft Entra ID (OpenID Connect) sign-in; nil means no SSO.
    public var entra: EntraConfig?
    /// The session cookie and lifetimes.
    public var session: SessionConfig
    /// Hosts other than the gateway's own that a return URL after sign-in may point at.
    public var allowedReturnHosts: [RedirectGuard.AllowedHost]
    /// Reserved for local (break-glass) users.
    public var localUsers: ReservedSection?
    /// Reserved for the SSO switch and exclusion list.
    public var sso: ReservedSection?
    /// Seconds a graceful stop (SIGTERM) lets requests in flight finish before closing them.
    public var shutdownTimeout: Double
    /// Every file the config names (keys, secrets, certificates), as absolute paths: a
    /// reload watches them along with the config file itself.
    public var referencedFiles: [String] = []

    public static var fields: [ConfigField] {
        [
            .object("listen", ListenConfig.self),
            .value("publicURL"),
            .array("routes", of: RouteConfig.self),
            .object("identityHeaders", IdentityHeaderNames.self),
            .object("limits", LimitsConfig.self),
            .object("upstreamPool", UpstreamPoolConfig.self),
            .object("logging", LoggingConfig.self),
            .object("entra", EntraConfig.self),
            .object("session", SessionConfig.self),
            .value("allowedReturnHosts"),
            .object("localUsers", ReservedSection.self),
            .object("sso", ReservedSection.self),
            .value("shutdownTimeout"),
        ]
    }

    public init(reading reader: ConfigObjectReader) {
        listen = reader.section("listen")
        let defaultPublic = HTTPURL(scheme: "http", host: listen.address, port: listen.port, path: "")
        publicURL = defaultPublic
        if let text = reader.string("publicURL") {
            switch HTTPURL.parse(text) {
            case .success(let url) where url.path.isEmpty: publicURL = url
            case .success: reader.fail("publicURL", "\"\(text)\" must have no path (the gateway serves the whole origin)")
            case .failure(let failure): reader.fail("publicURL", failure.reason)
            }
        }
        routes = reader.sections("routes")
        identityHeaders = reader.section("identityHeaders")
        limits = reader.section("limits")
        upstreamPool = reader.section("upstreamPool")
        logging = reader.section("logging")
        entra = reader.optionalSection("entra")
        session = reader.section("session")
        if let domain = session.cookieDomain, publicURL.host.lowercased() != domain, !publicURL.host.lowercased().hasSuffix("." + domain) {
            reader.fail("session.cookieDomain", "\"\(domain)\" does not cover the public URL's host \"\(publicURL.host)\" (the browser would refuse the cookie)")
        }
        allowedReturnHosts = []
        for (index, text) in reader.stringArrayWithIndices("allowedReturnHosts") {
            switch RedirectGuard.AllowedHost.parse(text) {
            case .success(let host): allowedReturnHosts.append(host)
            case .failure(let failure): reader.fail("allowedReturnHosts[\(index)]", failure.reason)
            }
        }
        localUsers = reader.optionalSection("localUsers")
        sso = reader.optionalSection("sso")
        shutdownTimeout = reader.seconds("shutdownTimeout", default: 30, in: 0...3_600)
        validateRoutes(reader)
    }

    /// Cross-route rules: a route must be reachable and unambiguous, and protected routes
    /// need a sign-in method (fail closed rather than serve them open).
    private mutating func validateRoutes(_ reader: ConfigObjectReader) {
        if routes.isEmpty && !reader.issues.issues.contains(where: { $0.path.hasPrefix("routes") }) {
            reader.fail("routes", "at least one route is required")
        }
        var seenNames: [String: Int] = [:]
        var seenMatches: [String: Int] = [:]
        for (index, route) in routes.enumerated() {
            let path = "routes[\(index)]"
            if let first = seenNames[route.name] {
                reader.issues.add("\(path).name", "\"\(route.name)\" is already the name of routes[\(first)]")
            } else {
                seenNames[route.name] = index
            }
            // Two case-insensitive routes collide on any spelling of their prefix (a
            // case-sensitive one beside them still wins its exact spelling).
            let match = "\(route.host ?? "*") \(route.caseInsensitive ? "any-case " + route.pathPrefix.lowercased() : route.pathPrefix)"
            if let first = seenMatches[match] {
                reader.issues.add(path, "matches the same host and pathPrefix as routes[\(first)], so it could never be chosen")
            } else {
                seenMatches[match] = index
            }
            let publicIsMalformed = reader.issues.issues.contains { $0.path == "\(path).public" }
            if !route.isPublic && !hasSignIn && !publicIsMalformed {
                reader.issues.add(
                    "\(path).public",
                    "the route is protected (public is false) but no sign-in method is configured; set \"public\": true or configure sign-in"
                )
            }
        }
    }

    /// Whether any sign-in method is configured; without one no route may be protected.
    /// (Local break-glass users arrive with the `localUsers` section.)
    public var hasSignIn: Bool { entra != nil }

    /// Parses and validates a config document; throws every problem found.
    public static func load(
        _ data: Data,
        baseDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
        environment: @escaping @Sendable (String) -> String? = { ProcessInfo.processInfo.environment[$0] }
    ) throws(ConfigError) -> GatewayConfig {
        let document: JSONValue
        do {
            document = try JSONValue.parse(data)
        } catch {
            throw ConfigError(issues: [ConfigIssue(path: "", reason: "not valid JSON: \(JSONSyntaxError.describe(error))")])
        }
        guard case .object(let object) = document else {
            throw ConfigError(issues: [ConfigIssue(path: "", reason: "the config must be a JSON object, found \(document.kindName)")])
        }
        let issues = ConfigIssueCollector()
        let reader = ConfigObjectReader(
            path: "", values: object, issues: issues, baseDirectory: baseDirectory, environment: environment)
        reader.rejectUnknownKeys(known: fields.map(\.name))
        var config = GatewayConfig(reading: reader)
        guard issues.issues.isEmpty else { throw ConfigError(issues: issues.issues) }
        config.referencedFiles = issues.files
        return config
    }

    /// Reads and validates a config file.
    public static func load(file path: String) throws(ConfigError) -> GatewayConfig {
        let url = URL(fileURLWithPath: path)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw ConfigError(issues: [ConfigIssue(path: "", reason: "cannot read config file \"\(path)\"")])
        }
        return try load(data, baseDirectory: url.deletingLastPathComponent())
    }
}

extension GatewayConfig {
    /// Settings a running gateway cannot take without a restart, each named by its field
    /// path, that differ between `self` (running) and `next`: a reload applies everything
    /// else and reports these.
    public func restartOnlyChanges(to next: GatewayConfig) -> [String] {
        var changed: [String] = []
        if listen != next.listen { changed.append("listen") }
        if session.store.kind != next.session.store.kind || session.store.url != next.session.store.url { changed.append("session.store") }
        if session.maxSessions != next.session.maxSessions { changed.append("session.maxSessions") }
        if session.idleTimeout != next.session.idleTimeout { changed.append("session.idleTimeout") }
        if upstreamPool != next.upstreamPool { changed.append("upstreamPool") }
        if limits.maxHeaderBytes != next.limits.maxHeaderBytes { changed.append("limits.maxHeaderBytes") }
        if limits.maxConnections != next.limits.maxConnections { changed.append("limits.maxConnections") }
        if logging != next.logging { changed.append("logging") }
        return changed
    }
}

/// Turns a JSON decoding error into a short human sentence without Swift type names.
enum JSONSyntaxError {
    static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return underlying ?? context.debugDescription
        }
        return String(describing: error)
    }
}

/// A section kept for a later feature: it accepts no fields yet, so a config written for a
/// newer version fails loudly instead of running without the settings it asked for.
public struct ReservedSection: ConfigSection, Sendable {
    public static var fields: [ConfigField] { [] }
    public init(reading reader: ConfigObjectReader) {}
}
