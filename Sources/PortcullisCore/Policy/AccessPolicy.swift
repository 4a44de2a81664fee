/// `routes[].allow`: who may use a protected route. Without it anyone signed in may; with
/// it, a user matching any one entry (a role, a group, a username, an email domain or a
/// tenant) may, and everyone else gets 403. Evaluated on every request against the
/// session's identity, which revalidation keeps current, so a role removed at Entra closes
/// the route within `session.revalidateEvery`.
public struct AccessPolicy: ConfigSection, Sendable, Equatable {
    /// App-role values (`roles` claim), exact.
    public var roles: Set<String>
    /// Group object ids, compared case-insensitively (GUIDs).
    public var groups: Set<String>
    /// Host-system usernames (after mapping), compared case-insensitively.
    public var users: Set<String>
    /// Email domains (`contoso.example`), compared case-insensitively.
    public var emailDomains: Set<String>
    /// Tenant ids, compared case-insensitively.
    public var tenants: Set<String>

    public static var fields: [ConfigField] {
        [.value("roles"), .value("groups"), .value("users"), .value("emailDomains"), .value("tenants")]
    }

    public init(reading reader: ConfigObjectReader) {
        roles = Set(reader.stringArray("roles"))
        groups = Set(reader.stringArray("groups").map { $0.lowercased() })
        users = Set(reader.stringArray("users").map { $0.lowercased() })
        emailDomains = Set(reader.stringArray("emailDomains").map { $0.lowercased() })
        tenants = Set(reader.stringArray("tenants").map { $0.lowercased() })
        if roles.isEmpty && groups.isEmpty && users.isEmpty && emailDomains.isEmpty && tenants.isEmpty {
            reader.failHere("lists no one (give roles, groups, users, emailDomains or tenants, or leave allow out to admit anyone signed in)")
        }
    }

    public init(roles: Set<String> = [], groups: Set<String> = [], users: Set<String> = [], emailDomains: Set<String> = [], tenants: Set<String> = []) {
        self.roles = roles
        self.groups = Set(groups.map { $0.lowercased() })
        self.users = Set(users.map { $0.lowercased() })
        self.emailDomains = Set(emailDomains.map { $0.lowercased() })
        self.tenants = Set(tenants.map { $0.lowercased() })
    }

    public func allows(_ identity: Identity) -> Bool {
        if identity.roles.contains(where: roles.contains) { return true }
        if !groups.isEmpty, identity.groups.contains(where: { groups.contains($0.lowercased()) }) { return true }
        if users.contains(identity.username.lowercased()) { return true }
        if !emailDomains.isEmpty, let email = identity.email, let at = email.lastIndex(of: "@"),
            emailDomains.contains(email[email.index(after: at)...].lowercased())
        {
            return true
        }
        if let tenant = identity.tenantId, tenants.contains(tenant.lowercased()) { return true }
        return false
    }
}
