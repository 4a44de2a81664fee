/// Which identity headers one route sends, under which names and in which format: the
/// route's `headers` and `permissions` resolved over the gateway-wide `identityHeaders`,
/// once per config. Rendering is pure; the data plane keeps the result per connection.
public struct IdentityHeaderPlan: Sendable {
    /// The headers sent, in a fixed order, with their names for this route.
    public let fields: [(kind: IdentityHeaderKind, name: String)]
    public let listFormat: RouteHeadersConfig.ListFormat
    /// The route's own username rule, or nil for the identity's username.
    public let username: UsernameMapping?
    public let permissions: PermissionMap
    public let fixed: [(name: String, value: String)]

    /// The assertion header's name when the route sends one (the caller signs it and adds it
    /// per request, since it changes more often than the other fields).
    public let assertionName: String?
    public var sendsAssertion: Bool { assertionName != nil }

    /// - Parameter assertionConfigured: whether the top-level `assertion` section is set; the
    ///   assertion is sent by default only then (and `send` may not ask for it otherwise).
    public init(route: RouteConfig, names: IdentityHeaderNames, assertionConfigured: Bool) {
        let headers = route.headers
        let defaults = IdentityHeaderKind.allCases.filter { $0 != .assertion || assertionConfigured }
        let sent = headers.send ?? Set(defaults)
        fields = IdentityHeaderKind.allCases.filter { sent.contains($0) && ($0 != .assertion || assertionConfigured) }
            .map { ($0, headers.names[$0] ?? $0.name(in: names)) }
        assertionName = fields.first { $0.kind == .assertion }?.name
        listFormat = headers.listFormat
        username = headers.username
        permissions = route.permissions
        fixed = headers.fixed
    }

    /// What rendering produced: the header lines, or why the route cannot be served to this
    /// user (its username rule found no username), and which headers had to be cut.
    public struct Rendered: Sendable {
        public var lines: [(name: String, value: String)] = []
        /// Names of headers cut to ``IdentityHeaderValue/maxBytes``, for the log.
        public var cut: [String] = []
        public var refusal: String?
    }

    /// The header lines for `identity`; `assertion` is the signed JWT when the plan sends one.
    public func render(_ identity: Identity, assertion: String? = nil) -> Rendered {
        var rendered = Rendered()
        func add(_ name: String, _ value: String) {
            let (limited, cut) = IdentityHeaderValue.limited(value)
            if cut { rendered.cut.append(name) }
            rendered.lines.append((name, limited))
        }
        func addList(_ name: String, _ values: [String]) {
            guard !values.isEmpty else { return }
            switch listFormat {
            case .comma: add(name, values.joined(separator: ","))
            case .repeated: for value in values { add(name, value) }
            }
        }
        for (kind, name) in fields {
            switch kind {
            case .user:
                if let rule = username {
                    switch rule.username(for: identity) {
                    case .success(let value): add(name, value)
                    case .failure(let error):
                        rendered.refusal = error.description
                        return rendered
                    }
                } else {
                    add(name, identity.username)
                }
            case .email: if let email = identity.email { add(name, email) }
            case .name: if let display = identity.displayName { add(name, display) }
            case .roles: addList(name, identity.roles)
            case .groups: addList(name, identity.groups)
            case .permissions: addList(name, permissions.permissions(for: identity))
            case .authMethod: add(name, identity.method.rawValue)
            case .assertion: if let assertion { add(name, assertion) }
            }
        }
        for (name, value) in fixed { rendered.lines.append((name, value)) }
        return rendered
    }

    /// Every name this plan writes, for the strip list of all routes.
    public var headerNames: [String] { fields.map(\.name) + fixed.map(\.name) }
}
