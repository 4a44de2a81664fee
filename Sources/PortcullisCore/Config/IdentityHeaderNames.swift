/// Names of the headers that carry the signed-in identity upstream.
///
/// Every one of them (and `alsoStrip`) is removed from every client request on every route,
/// so a client can never claim an identity by sending the header itself.
public struct IdentityHeaderNames: ConfigSection, Sendable {
    public var user: String
    public var email: String
    public var name: String
    public var roles: String
    public var groups: String
    public var permissions: String
    public var authMethod: String
    /// The signed assertion (a short-lived JWT upstreams can verify).
    public var assertion: String
    /// Further headers the upstream trusts for identity (`Remote-User`, say), stripped too.
    public var alsoStrip: [String]

    public static var fields: [ConfigField] {
        ["user", "email", "name", "roles", "groups", "permissions", "authMethod", "assertion", "alsoStrip"]
            .map(ConfigField.value)
    }

    /// All names that must never come from a client.
    public var all: [String] { [user, email, name, roles, groups, permissions, authMethod, assertion] + alsoStrip }

    public init(reading reader: ConfigObjectReader) {
        func header(_ key: String, _ fallback: String) -> String {
            let value = reader.string(key, default: fallback)
            if !HeaderName.isToken(value) { reader.fail(key, "\"\(value)\" is not a valid header name") }
            return value
        }
        user = header("user", "X-Forwarded-User")
        email = header("email", "X-Forwarded-Email")
        name = header("name", "X-Forwarded-Name")
        roles = header("roles", "X-Forwarded-Roles")
        groups = header("groups", "X-Forwarded-Groups")
        permissions = header("permissions", "X-Forwarded-Permissions")
        authMethod = header("authMethod", "X-Auth-Method")
        assertion = header("assertion", "X-Portcullis-Assertion")
        let listed = reader.stringArrayWithIndices("alsoStrip")
        alsoStrip = listed.map(\.value)
        for (index, value) in listed where !HeaderName.isToken(value) {
            reader.issues.add("\(reader.path(of: "alsoStrip"))[\(index)]", "\"\(value)\" is not a valid header name")
        }
        let named = [
            ("user", user), ("email", email), ("name", name), ("roles", roles), ("groups", groups),
            ("permissions", permissions), ("authMethod", authMethod), ("assertion", assertion),
        ]
        var seen: [(key: String, normal: String)] = []
        for (key, value) in named {
            let normal = HeaderName.normalized(value)
            if let other = seen.first(where: { $0.normal == normal }) {
                reader.fail(key, "\"\(value)\" is the same header as \(other.key)")
            }
            seen.append((key, normal))
            if HeaderRules.hopByHop.contains(normal) || normal == "host" || normal == "cookie" {
                reader.fail(key, "\"\(value)\" is reserved by HTTP and cannot carry identity")
            }
        }
    }
}
