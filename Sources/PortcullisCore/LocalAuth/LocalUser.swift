/// One break-glass account from the users file: someone who can sign in with a password
/// when single sign-on is off, unreachable, or not meant for them (`sso.excludedUsers`).
///
/// The fields mirror the file's JSON object. Names are kept as written, since the username
/// is what upstream applications receive; comparisons go through ``AccountName``.
public struct LocalUser: Sendable, Equatable, Codable {
    /// The host-system username sent upstream, and the name typed at sign-in.
    public var username: String
    /// A bcrypt hash in modular-crypt form (`$2b$12$…`), cost 12 or more.
    public var passwordHash: String
    /// An alternative name to sign in with, also sent upstream as the email.
    public var email: String?
    /// Display name sent upstream.
    public var name: String?
    public var roles: [String]
    public var groups: [String]
    /// Base32 TOTP secret; when set, sign-in also asks for a one-time code.
    public var totpSecret: String?
    /// A disabled user is kept in the file (its history stays readable) but never signs in.
    public var disabled: Bool

    public init(
        username: String, passwordHash: String, email: String? = nil, name: String? = nil,
        roles: [String] = [], groups: [String] = [], totpSecret: String? = nil, disabled: Bool = false
    ) {
        self.username = username
        self.passwordHash = passwordHash
        self.email = email
        self.name = name
        self.roles = roles
        self.groups = groups
        self.totpSecret = totpSecret
        self.disabled = disabled
    }

    /// ``AccountName/canonical(_:)`` of the username.
    public var canonicalUsername: String { AccountName.canonical(username) }
    /// ``AccountName/canonical(_:)`` of the email, if any.
    public var canonicalEmail: String? { email.map(AccountName.canonical) }

    /// Whether `canonicalName` (already canonical) names this user, by username or email.
    public func isNamed(_ canonicalName: String) -> Bool {
        canonicalUsername == canonicalName || canonicalEmail == canonicalName
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case username, passwordHash, email, name, roles, groups, totpSecret, disabled
    }

    /// Lists and `disabled` may be left out of the file; they default to empty and false.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        username = try container.decode(String.self, forKey: .username)
        passwordHash = try container.decode(String.self, forKey: .passwordHash)
        email = try container.decodeIfPresent(String.self, forKey: .email)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        roles = try container.decodeIfPresent([String].self, forKey: .roles) ?? []
        groups = try container.decodeIfPresent([String].self, forKey: .groups) ?? []
        totpSecret = try container.decodeIfPresent(String.self, forKey: .totpSecret)
        disabled = try container.decodeIfPresent(Bool.self, forKey: .disabled) ?? false
    }
}
