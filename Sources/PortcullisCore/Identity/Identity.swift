/// Who a signed-in user is, as the upstream applications see it. Built once at sign-in (and
/// again at each revalidation) and carried by the session; identity headers are rendered
/// from it on every request.
///
/// The fields live in one ``CopyOnWrite`` box: an identity is copied several times per
/// authenticated request (policy check, header rendering, access log), and a copy is then one
/// retain instead of one per string and list.
public struct Identity: Sendable, Equatable, Codable {
    /// How the user signed in, sent upstream in the auth-method header.
    public enum Method: String, Sendable, Codable {
        case sso
        case local
    }

    /// Also the JSON shape stores keep (the synthesised coding of these properties).
    private struct Fields: Sendable, Equatable, Codable {
        var username: String
        var email: String?
        var displayName: String?
        var objectId: String?
        var tenantId: String?
        var roles: [String]
        var groups: [String]
        var method: Method
        /// Optional so records stored before these fields existed still decode.
        var subject: String?
        var authContexts: [String]?
        /// `preferred_username` when it differs from `username`, and `upn`: what a route's own
        /// username rule may take instead of the gateway-wide one.
        var preferredUsername: String?
        var upn: String?
    }

    private var fields: CopyOnWrite<Fields>

    /// The host-system username (after claim choice, transforms and overrides).
    public var username: String {
        get { fields.value.username }
        set { fields.value.username = newValue }
    }
    public var email: String? {
        get { fields.value.email }
        set { fields.value.email = newValue }
    }
    public var displayName: String? {
        get { fields.value.displayName }
        set { fields.value.displayName = newValue }
    }
    /// Entra object id and tenant id: together the stable identity of the account.
    public var objectId: String? {
        get { fields.value.objectId }
        set { fields.value.objectId = newValue }
    }
    public var tenantId: String? {
        get { fields.value.tenantId }
        set { fields.value.tenantId = newValue }
    }
    /// App-role values (`roles` claim).
    public var roles: [String] {
        get { fields.value.roles }
        set { fields.value.roles = newValue }
    }
    /// Group object ids (`groups` claim or Microsoft Graph).
    public var groups: [String] {
        get { fields.value.groups }
        set { fields.value.groups = newValue }
    }
    public var method: Method {
        get { fields.value.method }
        set { fields.value.method = newValue }
    }
    /// The ID token's `sub`: a refresh must never change it (nor `oid`/`tid`).
    public var subject: String? {
        get { fields.value.subject }
        set { fields.value.subject = newValue }
    }
    /// The `preferred_username` claim (the username itself when it was not kept apart).
    public var preferredUsername: String {
        get { fields.value.preferredUsername ?? fields.value.username }
        set { fields.value.preferredUsername = newValue == fields.value.username ? nil : newValue }
    }
    public var upn: String? {
        get { fields.value.upn }
        set { fields.value.upn = newValue }
    }
    /// Conditional Access authentication contexts the sign-in satisfied (`acrs` claim).
    public var authContexts: [String] {
        get { fields.value.authContexts ?? [] }
        set { fields.value.authContexts = newValue.isEmpty ? nil : newValue }
    }

    public init(
        username: String, email: String? = nil, displayName: String? = nil, objectId: String? = nil,
        tenantId: String? = nil, roles: [String] = [], groups: [String] = [], method: Method, subject: String? = nil,
        authContexts: [String] = []
    ) {
        fields = CopyOnWrite(
            Fields(
                username: username, email: email, displayName: displayName, objectId: objectId, tenantId: tenantId,
                roles: roles, groups: groups, method: method, subject: subject, authContexts: authContexts.isEmpty ? nil : authContexts))
    }

    public init(from decoder: any Decoder) throws {
        fields = CopyOnWrite(try Fields(from: decoder))
    }

    public func encode(to encoder: any Encoder) throws {
        try fields.value.encode(to: encoder)
    }
}
