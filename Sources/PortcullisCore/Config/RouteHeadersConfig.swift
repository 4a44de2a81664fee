/// One of the identity headers the gateway can send upstream.
public enum IdentityHeaderKind: String, Sendable, CaseIterable, Hashable {
    case user, email, name, roles, groups, permissions, authMethod, assertion

    /// The header's name under `names`.
    public func name(in names: IdentityHeaderNames) -> String {
        switch self {
        case .user: names.user
        case .email: names.email
        case .name: names.name
        case .roles: names.roles
        case .groups: names.groups
        case .permissions: names.permissions
        case .authMethod: names.authMethod
        case .assertion: names.assertion
        }
    }
}

/// `routes[].headers`: what one route's upstream learns about the user, and under which
/// names. Apps differ: an *authentication only* app gets the username and nothing that
/// could pass for authorization; an *authentication and permissions* app also gets roles,
/// groups or its own permission names. Unset fields take the gateway-wide defaults.
public struct RouteHeadersConfig: ConfigSection, Sendable {
    /// How lists (roles, groups, permissions) are written.
    public enum ListFormat: String, Sendable {
        /// One header, values joined with `,` (values never contain a comma).
        case comma
        /// The header repeated once per value, for apps that read every occurrence.
        case repeated = "repeat"
    }

    /// The headers sent, when given; nil: every header with a value (the assertion only when
    /// the top-level `assertion` section is configured).
    public var send: Set<IdentityHeaderKind>?
    /// Header names for this route, over `identityHeaders`.
    public var names: [IdentityHeaderKind: String]
    /// A username rule for this route instead of `entra.username` (host systems differ: one
    /// wants the primary email, another the short account name).
    public var username: UsernameMapping?
    public var listFormat: ListFormat
    /// Fixed headers for this route's upstream (`X-Tenant: north`); a client's copies are
    /// stripped like identity headers.
    public var fixed: [(name: String, value: String)]

    public static var fields: [ConfigField] {
        [.value("send"), .value("names"), .object("username", UsernameConfig.self), .value("listFormat"), .value("static")]
    }

    public init(reading reader: ConfigObjectReader) {
        if reader.has("send") {
            var kinds: Set<IdentityHeaderKind> = []
            for (index, text) in reader.stringArrayWithIndices("send") {
                if let kind = IdentityHeaderKind(rawValue: text) {
                    kinds.insert(kind)
                } else {
                    reader.fail("send[\(index)]", "\"\(TextCheck.quotable(text))\" is not one of \(Self.kindList)")
                }
            }
            send = kinds
        } else {
            send = nil
        }
        names = [:]
        for (key, value) in reader.object("names") ?? [:] {
            guard let kind = IdentityHeaderKind(rawValue: key) else {
                reader.fail("names.\(key)", "is not one of \(Self.kindList)")
                continue
            }
            guard let name = value.stringValue, HeaderName.isToken(name), !Self.isReserved(name) else {
                reader.fail("names.\(key)", "must be a header name that HTTP does not reserve")
                continue
            }
            names[kind] = name
        }
        username = reader.optionalSection("username", as: UsernameConfig.self)?.mapping
        listFormat = ListFormat(rawValue: reader.choice("listFormat", default: "comma", among: ["comma", "repeat"])) ?? .comma
        fixed = []
        for (key, value) in (reader.object("static") ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard HeaderName.isToken(key), !Self.isReserved(key) else {
                reader.fail("static.\(key)", "is not a header name the gateway may set")
                continue
            }
            guard let text = value.stringValue, IdentityHeaderValue.isSafe(text), text.utf8.count <= IdentityHeaderValue.maxBytes else {
                reader.fail("static.\(key)", "must be a string of at most \(IdentityHeaderValue.maxBytes) bytes without control characters")
                continue
            }
            fixed.append((key, text))
        }
    }

    public init() {
        send = nil
        names = [:]
        username = nil
        listFormat = .comma
        fixed = []
    }

    /// Names HTTP or the gateway itself owns, or that carry a client's own credentials or
    /// body framing: never identity or static headers (every route's names are stripped from
    /// every client request, so `Authorization` here would break every other route).
    static func isReserved(_ name: String) -> Bool {
        let normal = HeaderName.normalized(name)
        return HeaderRules.hopByHop.contains(normal)
            || ["host", "cookie", "content-length", "content-type", "content-encoding", "authorization", "x-forwarded-for", "forwarded"].contains(normal)
            || HeaderRules.gatewaySet.contains { HeaderName.normalized($0) == normal }
    }

    private static var kindList: String { IdentityHeaderKind.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") }
}

/// What may go into an identity header's value, and how long it may be.
public enum IdentityHeaderValue {
    /// Longer values are cut (and logged): many servers refuse a request with a field over
    /// 8 KiB, and a user with hundreds of groups should not make every request fail.
    public static let maxBytes = 4096

    /// No control characters (CR and LF would split the header; NUL ends it early in C
    /// servers) and no Unicode line separators.
    public static func isSafe(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { scalar in
            switch scalar.properties.generalCategory {
            case .control, .lineSeparator, .paragraphSeparator: false
            default: true
            }
        }
    }

    /// `text` cut to `maxBytes` on a character boundary, and whether it was cut.
    public static func limited(_ text: String) -> (value: String, cut: Bool) {
        guard text.utf8.count > maxBytes else { return (text, false) }
        var end = text.utf8.index(text.utf8.startIndex, offsetBy: maxBytes)
        while end > text.startIndex, end.samePosition(in: text.unicodeScalars) == nil { end = text.utf8.index(before: end) }
        return (String(text[..<end]), true)
    }
}
