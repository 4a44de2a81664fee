/// A user of the development IdP, with the claims Entra would put in an ID token and the
/// failure modes a gateway must handle (role assignment missing, group overage, disabled).
///
/// In a directory file every field after `tid` may be omitted (empty lists, `false`, `nil`).
public struct DevIdPUser: Codable, Sendable, Equatable {
    /// Short unique key, used by the sign-in picker and by tests (`dev_user=KEY`).
    public var key: String
    /// The `preferred_username` claim, e.g. `alice@contoso.example`.
    public var preferredUsername: String
    public var name: String
    public var email: String?
    /// Emitted as the `upn` claim when set (Entra sends it only as an optional claim).
    public var upn: String?
    /// Object id (GUID), the `oid` claim: the stable identifier a gateway should key users on.
    public var oid: String
    /// Home tenant id (GUID); the token's `iss` and `tid` always use it.
    public var tid: String
    /// App-role values for the `roles` claim (omitted when empty, as Entra does).
    public var roles: [String]
    /// Group object ids for the `groups` claim, unless `groupOverage`.
    public var groups: [String]
    /// Entra drops `groups` from tokens past a size limit and points to Graph instead
    /// (`_claim_names`/`_claim_sources`); `true` simulates that, so a gateway's Graph
    /// fallback can be tested with a handful of groups.
    public var groupOverage: Bool
    /// An Entra error code such as `"AADSTS50105"`: choosing this user sends that error to
    /// the client instead of a code (and later refreshes fail with it).
    public var signInError: String?
    /// `true`: refresh-token grants fail with `invalid_grant` AADSTS50057, as for an account
    /// disabled after sign-in.
    public var disabled: Bool

    public init(
        key: String, preferredUsername: String, name: String, email: String? = nil, upn: String? = nil,
        oid: String, tid: String, roles: [String] = [], groups: [String] = [], groupOverage: Bool = false,
        signInError: String? = nil, disabled: Bool = false
    ) {
        self.key = key
        self.preferredUsername = preferredUsername
        self.name = name
        self.email = email
        self.upn = upn
        self.oid = oid
        self.tid = tid
        self.roles = roles
        self.groups = groups
        self.groupOverage = groupOverage
        self.signInError = signInError
        self.disabled = disabled
    }

    private enum CodingKeys: String, CodingKey {
        case key, preferredUsername, name, email, upn, oid, tid, roles, groups, groupOverage, signInError, disabled
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            key: try container.decode(String.self, forKey: .key),
            preferredUsername: try container.decode(String.self, forKey: .preferredUsername),
            name: try container.decode(String.self, forKey: .name),
            email: try container.decodeIfPresent(String.self, forKey: .email),
            upn: try container.decodeIfPresent(String.self, forKey: .upn),
            oid: try container.decode(String.self, forKey: .oid),
            tid: try container.decode(String.self, forKey: .tid),
            roles: try container.decodeIfPresent([String].self, forKey: .roles) ?? [],
            groups: try container.decodeIfPresent([String].self, forKey: .groups) ?? [],
            groupOverage: try container.decodeIfPresent(Bool.self, forKey: .groupOverage) ?? false,
            signInError: try container.decodeIfPresent(String.self, forKey: .signInError),
            disabled: try container.decodeIfPresent(Bool.self, forKey: .disabled) ?? false)
    }
}
