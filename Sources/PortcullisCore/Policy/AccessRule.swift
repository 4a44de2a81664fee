/// One rule of `routes[].allow` or `routes[].deny`: conditions that must **all** hold, each
/// holding when **any** of its values matches. `{ "roles": ["Keyfax.Admin"], "tenants": [T] }`
/// is "role Keyfax.Admin and tenant T"; an any-of across kinds is a list of rules.
///
/// Evaluated on every request against the session's identity, which revalidation keeps
/// current, so a role removed at Entra closes the route within `session.revalidateEvery`.
/// An empty list is no condition (so `"groups": []` in a template changes nothing).
public struct AccessRule: ConfigSection, Sendable, Equatable {
    /// Names the rule in the audit log (`allow[1]` when not given).
    public var name: String
    /// App-role values (`roles` claim), exact.
    public var roles: Set<String>
    /// Group object ids, lowercased (names in the config are resolved through `groupNames`).
    public var groups: Set<String>
    /// Host-system usernames (after mapping), compared case-insensitively.
    public var users: Set<String>
    /// Email domains (`contoso.example`), lowercased; matched on a strictly parsed address.
    public var emailDomains: Set<String>
    /// Tenant ids, lowercased.
    public var tenants: Set<String>
    /// How the session was created: an admin tool may refuse emergency local sessions.
    public var authMethods: Set<Identity.Method>
    /// HTTP methods, upper case (`["GET", "HEAD"]` makes a route read-only for the rule).
    public var methods: Set<String>
    /// Where the request comes from (the client address found through `trustedProxies`).
    public var clientAddresses: [CIDRBlock]

    public static var fields: [ConfigField] {
        [
            .value("name"), .value("roles"), .value("groups"), .value("users"), .value("emailDomains"), .value("tenants"),
            .value("authMethods"), .value("methods"), .value("clientAddresses"),
        ]
    }

    public init(reading reader: ConfigObjectReader) {
        name = reader.string("name", default: reader.path.split(separator: ".").last.map(String.init) ?? reader.path)
        if name.isEmpty || !name.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F }) {
            reader.fail("name", "must be printable ASCII text")
        }
        roles = Set(reader.stringArray("roles"))
        groups = Set(reader.stringArray("groups").map { $0.lowercased() })
        users = Set(reader.stringArray("users").map { $0.lowercased() })
        emailDomains = []
        for (index, domain) in reader.stringArrayWithIndices("emailDomains") {
            let lowered = domain.lowercased()
            if EmailAddress.isDomain(lowered) {
                emailDomains.insert(lowered)
            } else {
                reader.issues.add("\(reader.path(of: "emailDomains"))[\(index)]", "\"\(TextCheck.quotable(domain))\" is not a domain name (write contoso.org, without @)")
            }
        }
        tenants = Set(reader.stringArray("tenants").map { $0.lowercased() })
        authMethods = []
        for (index, text) in reader.stringArrayWithIndices("authMethods") {
            if let method = Identity.Method(rawValue: text) {
                authMethods.insert(method)
            } else {
                reader.issues.add("\(reader.path(of: "authMethods"))[\(index)]", "\"\(TextCheck.quotable(text))\" is not an auth method (sso or local)")
            }
        }
        methods = []
        for (index, text) in reader.stringArrayWithIndices("methods") {
            if HeaderName.isToken(text) {
                methods.insert(text.uppercased())
            } else {
                reader.issues.add("\(reader.path(of: "methods"))[\(index)]", "\"\(TextCheck.quotable(text))\" is not an HTTP method")
            }
        }
        clientAddresses = []
        for (index, text) in reader.stringArrayWithIndices("clientAddresses") {
            switch CIDRBlock.parse(text) {
            case .success(let block): clientAddresses.append(block)
            case .failure(let failure): reader.issues.add("\(reader.path(of: "clientAddresses"))[\(index)]", failure.reason)
            }
        }
        if isEmpty {
            reader.failHere("has no condition (give roles, groups, users, emailDomains, tenants, authMethods, methods or clientAddresses; to admit anyone signed in, leave allow out)")
        }
    }

    public init(
        name: String = "rule", roles: Set<String> = [], groups: Set<String> = [], users: Set<String> = [], emailDomains: Set<String> = [],
        tenants: Set<String> = [], authMethods: Set<Identity.Method> = [], methods: Set<String> = [], clientAddresses: [CIDRBlock] = []
    ) {
        self.name = name
        self.roles = roles
        self.groups = Set(groups.map { $0.lowercased() })
        self.users = Set(users.map { $0.lowercased() })
        self.emailDomains = Set(emailDomains.map { $0.lowercased() })
        self.tenants = Set(tenants.map { $0.lowercased() })
        self.authMethods = authMethods
        self.methods = Set(methods.map { $0.uppercased() })
        self.clientAddresses = clientAddresses
    }

    /// No condition at all (refused by config validation: it would match everyone).
    public var isEmpty: Bool {
        roles.isEmpty && groups.isEmpty && users.isEmpty && emailDomains.isEmpty && tenants.isEmpty && authMethods.isEmpty
            && methods.isEmpty && clientAddresses.isEmpty
    }

    /// Whether every condition holds for `identity` making a `method` request. The client
    /// address is found only when a rule asks for it (walking `X-Forwarded-For` costs more than
    /// the rest), hence a closure; it is not escaping, so it costs no allocation.
    public func matches(_ identity: Identity, method: String, clientAddress: () -> IPAddress?) -> Bool {
        if !roles.isEmpty, !identity.roles.contains(where: roles.contains) { return false }
        if !groups.isEmpty, !identity.groups.contains(where: { groups.contains($0.lowercased()) }) { return false }
        if !users.isEmpty, !users.contains(identity.username.lowercased()) { return false }
        if !emailDomains.isEmpty {
            guard let domain = identity.email.flatMap(EmailAddress.domain(of:)), emailDomains.contains(domain) else { return false }
        }
        if !tenants.isEmpty {
            guard let tenant = identity.tenantId, tenants.contains(tenant.lowercased()) else { return false }
        }
        if !authMethods.isEmpty, !authMethods.contains(identity.method) { return false }
        if !methods.isEmpty, !methods.contains(method) { return false }
        if !clientAddresses.isEmpty {
            guard let address = clientAddress(), clientAddresses.contains(where: { $0.contains(address) }) else { return false }
        }
        return true
    }
}

/// Strict reading of an email address's domain: exactly one `@`, a non-empty local part and a
/// plain domain after it. `a@evil.com@corp.com` has no domain (a lenient parser would say
/// `corp.com` and let an attacker-chosen address pass a domain rule).
public enum EmailAddress {
    public static func domain(of address: String) -> String? {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty else { return nil }
        let domain = parts[1].lowercased()
        return isDomain(domain) ? domain : nil
    }

    /// Dot-separated labels of letters, digits and hyphens (IDNs in their `xn--` form).
    public static func isDomain(_ text: String) -> Bool {
        let labels = text.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2, text.utf8.count <= 253 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.utf8.count <= 63 && label.first != "-" && label.last != "-"
                && label.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-") }
        }
    }
}
