/// Who a signed-in user is, as the upstream applications see it. Built once at sign-in (and
/// again at each revalidation) and carried by the session; identity headers are rendered
/// from it on every request.
///
/// A value type over one shared, copy-on-write record, like `Session`: an identity is copied
/// several times per authenticated request (policy check, header rendering, access log), and
/// a copy is then one retain instead of one per string and list.
public struct Identity: Sendable, Equatable, Codable {
    /// How the user signed in, sent upstream in the auth-method header.
    public enum Method: String, Sendable, Codable {
        case sso
        case local
    }

    private final class Record: @unchecked Sendable {
        // Mutated only through `Identity`'s setters, after `isKnownUniquelyReferenced`.
        var username: String
        var email: String?
        var displayName: String?
        var objectId: String?
        var tenantId: String?
        var roles: [String]
        var groups: [String]
        var method: Method

        init(
            username: String, email: String?, displayName: String?, objectId: String?, tenantId: String?, roles: [String],
            groups: [String], method: Method
        ) {
            self.username = username
            self.email = email
            self.displayName = displayName
            self.objectId = objectId
            self.tenantId = tenantId
            self.roles = roles
            self.groups = groups
            self.method = method
        }

        func copy() -> Record {
            Record(
                username: username, email: email, displayName: displayName, objectId: objectId, tenantId: tenantId,
                roles: roles, groups: groups, method: method)
        }
    }

    private var record: Record

    private var unique: Record {
        mutating get {
            if !isKnownUniquelyReferenced(&record) { record = record.copy() }
            return record
        }
    }

    /// The host-system username (after claim choice, transforms and overrides).
    public var username: String {
        get { record.username }
        set { unique.username = newValue }
    }
    public var email: String? {
        get { record.email }
        set { unique.email = newValue }
    }
    public var displayName: String? {
        get { record.displayName }
        set { unique.displayName = newValue }
    }
    /// Entra object id and tenant id: together the stable identity of the account.
    public var objectId: String? {
        get { record.objectId }
        set { unique.objectId = newValue }
    }
    public var tenantId: String? {
        get { record.tenantId }
        set { unique.tenantId = newValue }
    }
    /// App-role values (`roles` claim).
    public var roles: [String] {
        get { record.roles }
        set { unique.roles = newValue }
    }
    /// Group object ids (`groups` claim or Microsoft Graph).
    public var groups: [String] {
        get { record.groups }
        set { unique.groups = newValue }
    }
    public var method: Method {
        get { record.method }
        set { unique.method = newValue }
    }

    public init(
        username: String, email: String? = nil, displayName: String? = nil, objectId: String? = nil,
        tenantId: String? = nil, roles: [String] = [], groups: [String] = [], method: Method
    ) {
        record = Record(
            username: username, email: email, displayName: displayName, objectId: objectId, tenantId: tenantId,
            roles: roles, groups: groups, method: method)
    }

    public static func == (lhs: Identity, rhs: Identity) -> Bool {
        if lhs.record === rhs.record { return true }
        let a = lhs.record
        let b = rhs.record
        return a.username == b.username && a.email == b.email && a.displayName == b.displayName && a.objectId == b.objectId
            && a.tenantId == b.tenantId && a.roles == b.roles && a.groups == b.groups && a.method == b.method
    }

    // The JSON shape stores have always had (the synthesised one of the former memberwise struct).
    private enum CodingKeys: String, CodingKey {
        case username, email, displayName, objectId, tenantId, roles, groups, method
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            username: try container.decode(String.self, forKey: .username),
            email: try container.decodeIfPresent(String.self, forKey: .email),
            displayName: try container.decodeIfPresent(String.self, forKey: .displayName),
            objectId: try container.decodeIfPresent(String.self, forKey: .objectId),
            tenantId: try container.decodeIfPresent(String.self, forKey: .tenantId),
            roles: try container.decode([String].self, forKey: .roles),
            groups: try container.decode([String].self, forKey: .groups),
            method: try container.decode(Method.self, forKey: .method))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(username, forKey: .username)
        try container.encodeIfPresent(email, forKey: .email)
        try container.encodeIfPresent(displayName, forKey: .displayName)
        try container.encodeIfPresent(objectId, forKey: .objectId)
        try container.encodeIfPresent(tenantId, forKey: .tenantId)
        try container.encode(roles, forKey: .roles)
        try container.encode(groups, forKey: .groups)
        try container.encode(method, forKey: .method)
    }
}
