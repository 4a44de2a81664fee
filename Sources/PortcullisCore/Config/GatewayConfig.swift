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
    /// Local (break-glass) users who sign in with a password; nil means none.
    public var localUsers: LocalUsersConfig?
    /// The SSO switch, its exclusion list and the sign-in page; defaults when absent.
    public var sso: SSOConfig
    /// Proxies whose `X-Forwarded-For` is believed when finding a client's address.
    public var trustedProxies: TrustedProxies
    /// Seconds a graceful stop (SIGTERM) lets requests in flight finish before closing them.
    public var shutdownTimeout: Double
    /// Group object id → display name, so rules and permission maps can name groups
    /// (`"groups": ["Repairs Staff"]`) while tokens carry only ids.
    public var groupNames: [String: String]
    /// The signed identity assertion; nil: none is sent.
    public var assertion: AssertionConfig?
    /// The admin listener (`/metrics`).
    public var admin: AdminConfig
    /// OpenTelemetry tracing (off by default).
    public var tracing: TracingConfig
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
            .object("localUsers", LocalUsersConfig.self),
            .object("sso", SSOConfig.self),
            .value("trustedProxies"),
            .value("shutdownTimeout"),
            .value("groupNames"),
            .object("assertion", AssertionConfig.self),
            .object("admin", AdminConfig.self),
            .object("tracing", TracingConfig.self),
        ]
    }

    public init(reading reader: ConfigObjectReader) {
        listen = reader.section("listen")
        let defaultPublic = HTTPURL(scheme: listen.tls != nil ? "https" : "http", host: listen.address, port: listen.port, path: "")
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
        sso = reader.section("sso")
        var blocks: [CIDRBlock] = []
        for (index, text) in reader.stringArrayWithIndices("trustedProxies") {
            switch CIDRBlock.parse(text) {
            case .success(let block): blocks.append(block)
            case .failure(let failure): reader.fail("trustedProxies[\(index)]", failure.reason)
            }
        }
        trustedProxies = TrustedProxies(blocks: blocks)
        shutdownTimeout = reader.seconds("shutdownTimeout", default: 30, in: 0...3_600)
        groupNames = [:]
        for (id, value) in reader.object("groupNames") ?? [:] {
            if let name = value.stringValue, !name.isEmpty, Self.isGroupID(id) {
                groupNames[id.lowercased()] = name
            } else {
                reader.fail("groupNames.\(id)", "must map a group object id (a GUID) to a non-empty name")
            }
        }
        assertion = reader.optionalSection("assertion")
        admin = reader.section("admin")
        tracing = reader.section("tracing")
        if admin.enabled && admin.listen.address == listen.address && admin.listen.port == listen.port && listen.port != 0 {
            reader.fail("admin.listen.port", "is the public listener's port: metrics never go on the public listener")
        }
        validateRoutes(reader)
        resolveGroupNames()
        validateLocalSignIn(reader)
    }

    /// The SSO switch and its exceptions must leave someone able to sign in, and must name
    /// accounts that exist: a typo in `excludedUsers` would otherwise lock out the very
    /// break-glass account it was meant to exempt, discovered only during the outage.
    private func validateLocalSignIn(_ reader: ConfigObjectReader) {
        let usersFileIsBroken = reader.issues.issues.contains { $0.path.hasPrefix("localUsers") }
        let excluded = Self.excludedUserEntries(reader)
        guard let localUsers else {
            if !sso.enabled {
                reader.fail("sso.enabled", "false turns single sign-on off, so only local users could sign in, but localUsers is not configured")
            }
            if !excluded.isEmpty {
                reader.fail("sso.excludedUsers", "the users listed here sign in with a local password, so localUsers is required")
            }
            if sso.autoFallbackAfter != nil {
                reader.fail("sso.autoFallbackAfter", "falls back to local passwords, so localUsers is required")
            }
            return
        }
        guard !usersFileIsBroken else { return }
        for (index, entry) in excluded where localUsers.directory.user(matching: entry) == nil {
            reader.fail("sso.excludedUsers[\(index)]", "\"\(TextCheck.quotable(entry))\" is not a local user")
        }
        let anyoneEnabled = localUsers.directory.users.contains { !$0.disabled }
        if !sso.enabled && !anyoneEnabled {
            reader.fail("sso.enabled", "false turns single sign-on off, but no local user in localUsers.file is enabled, so nobody could sign in")
        }
        if entra == nil && sso.enabled && excluded.isEmpty {
            reader.fail("sso.enabled", "single sign-on is on but entra is not configured, so no local user could sign in; set \"enabled\": false or list users in sso.excludedUsers")
        }
        if entra == nil && sso.autoFallbackAfter != nil {
            reader.fail("sso.autoFallbackAfter", "counts failed Entra sign-ins, so entra is required")
        }
    }

    /// `sso.excludedUsers` as written, with their positions (the section keeps them
    /// canonical only); non-strings were already reported.
    private static func excludedUserEntries(_ reader: ConfigObjectReader) -> [(index: Int, value: String)] {
        guard case .object(let sso)? = reader.values["sso"], case .array(let items)? = sso["excludedUsers"] else { return [] }
        return items.enumerated().compactMap { index, item in
            guard case .string(let value) = item, !AccountName.canonical(value).isEmpty else { return nil }
            return (index, value)
        }
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

    /// Group names in rules and permission maps → object ids, through `groupNames`. A value
    /// that is neither an id nor a listed name is kept as written: other OpenID providers send
    /// group names, not ids, in the `groups` claim.
    private mutating func resolveGroupNames() {
        var idByName: [String: String] = [:]
        for (id, name) in groupNames { idByName[name.lowercased()] = id }
        func resolve(_ group: String) -> String { Self.isGroupID(group) ? group : idByName[group] ?? group }
        for index in routes.indices {
            for rule in routes[index].policy.allow.indices {
                routes[index].policy.allow[rule].groups = Set(routes[index].policy.allow[rule].groups.map(resolve))
            }
            for rule in routes[index].policy.deny.indices {
                routes[index].policy.deny[rule].groups = Set(routes[index].policy.deny[rule].groups.map(resolve))
            }
            for entry in routes[index].permissions.entries.indices {
                let key = routes[index].permissions.entries[entry].key
                routes[index].permissions.entries[entry].key = Self.isGroupID(key) ? key.lowercased() : idByName[key.lowercased()] ?? key
            }
        }
    }

    /// A GUID, as Entra writes group object ids.
    static func isGroupID(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        return parts.map(\.count) == [8, 4, 4, 4, 12] && parts.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    /// Whether any sign-in method is configured; without one no route may be protected.
    public var hasSignIn: Bool { entra != nil || localUsers != nil }

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
        if listen.needsRestart(toBecome: next.listen) { changed.append("listen") }
        if session.store.kind != next.session.store.kind || session.store.url != next.session.store.url { changed.append("session.store") }
        if session.maxSessions != next.session.maxSessions { changed.append("session.maxSessions") }
        if session.idleTimeout != next.session.idleTimeout { changed.append("session.idleTimeout") }
        if upstreamPool != next.upstreamPool { changed.append("upstreamPool") }
        if limits.maxHeaderBytes != next.limits.maxHeaderBytes { changed.append("limits.maxHeaderBytes") }
        if limits.maxConnections != next.limits.maxConnections { changed.append("limits.maxConnections") }
        if logging != next.logging { changed.append("logging") }
        if admin != next.admin { changed.append("admin") }
        if tracing != next.tracing { changed.append("tracing") }
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
