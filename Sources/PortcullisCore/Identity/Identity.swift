/// Who a signed-in user is, as the upstream applications see it. Built once at sign-in (and
/// again at each revalidation) and carried by the session; identity headers are rendered
/// from it on every request.
public struct Identity: Sendable, Equatable, Codable {
    /// How the user signed in, sent upstream in the auth-method header.
    public enum Method: String, Sendable, Codable {
        case sso
        case local
    }

    /// The host-system username (after claim choice, transforms and overrides).
    public var username: String
    public var email: String?
    public var displayName: String?
    /// Entra object id and tenant id: together the stable identity of the account.
    public var objectId: String?
    public var tenantId: String?
    /// App-role values (`roles` claim).
    public var roles: [String]
    /// Group object ids (`groups` claim or Microsoft Graph).
    public var groups: [String]
    public var method: Method

    public init(
        username: String, email: String? = nil, displayName: String? = nil, objectId: String? = nil,
        tenantId: String? = nil, roles: [String] = [], groups: [String] = [], method: Method
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
}
