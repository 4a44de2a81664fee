import Foundation
import JWTKit
import PortcullisCore

/// The claims of an identity assertion: who the user is, for which upstream, for how long.
///
/// Absent values are left out rather than sent empty: a nil or empty `email`, `name`,
/// `tid` or `oid`, and an empty `roles`, `groups` or `permissions` list, are not in the
/// token at all (as Entra leaves out `roles` for a user without any), which keeps the
/// header short. Upstreams must read a missing list as empty; decoding here does so.
/// `iss`, `aud`, `sub`, `preferred_username`, `amr`, `iat`, `exp` and `jti` are always there.
public struct AssertionClaims: JWTPayload, Equatable {
    /// The gateway's public URL.
    public var iss: String
    public var aud: String
    /// The Entra object id, else the gateway-wide username. The object id survives a rename
    /// (a user's UPN and so their username can change); local users have none, and `amr`
    /// tells the two kinds of subject apart. The same for every route.
    public var sub: String
    /// The host-system username the route sees (its user header's value).
    public var preferredUsername: String
    public var email: String?
    public var name: String?
    public var roles: [String]
    public var groups: [String]
    public var permissions: [String]
    /// How the user signed in: `["sso"]` or `["local"]` (RFC 8176 style).
    public var amr: [String]
    /// Entra tenant id and object id.
    public var tid: String?
    public var oid: String?
    /// Whole seconds since 1970.
    public var iat: Int
    public var exp: Int
    /// Random per assertion, so no two assertions are alike and an upstream can refuse replays.
    public var jti: String

    /// The claims for `identity` at `now`, valid `lifetime` seconds. `username`: the route's
    /// own username rule's result, when it has one; else the identity's username.
    public init(
        identity: Identity, username: String? = nil, permissions: [String], audience: String, issuer: String, now: Date,
        lifetime: Int
    ) {
        let objectId = Self.value(identity.objectId)
        iss = issuer
        aud = audience
        sub = objectId ?? identity.username
        preferredUsername = username ?? identity.username
        email = Self.value(identity.email)
        name = Self.value(identity.displayName)
        roles = identity.roles
        groups = identity.groups
        self.permissions = permissions
        amr = [identity.method.rawValue]
        tid = Self.value(identity.tenantId)
        oid = objectId
        iat = Int(now.timeIntervalSince1970.rounded(.down))
        exp = iat + lifetime
        jti = RandomToken.string(byteCount: 16)
    }

    private static func value(_ text: String?) -> String? { text?.isEmpty == false ? text : nil }

    enum CodingKeys: String, CodingKey {
        case iss, aud, sub, email, name, roles, groups, permissions, amr, tid, oid, iat, exp, jti
        case preferredUsername = "preferred_username"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        iss = try container.decode(String.self, forKey: .iss)
        aud = try container.decode(String.self, forKey: .aud)
        sub = try container.decode(String.self, forKey: .sub)
        preferredUsername = try container.decode(String.self, forKey: .preferredUsername)
        email = try container.decodeIfPresent(String.self, forKey: .email)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        roles = try container.decodeIfPresent([String].self, forKey: .roles) ?? []
        groups = try container.decodeIfPresent([String].self, forKey: .groups) ?? []
        permissions = try container.decodeIfPresent([String].self, forKey: .permissions) ?? []
        amr = try container.decode([String].self, forKey: .amr)
        tid = try container.decodeIfPresent(String.self, forKey: .tid)
        oid = try container.decodeIfPresent(String.self, forKey: .oid)
        iat = try container.decode(Int.self, forKey: .iat)
        exp = try container.decode(Int.self, forKey: .exp)
        jti = try container.decode(String.self, forKey: .jti)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(iss, forKey: .iss)
        try container.encode(aud, forKey: .aud)
        try container.encode(sub, forKey: .sub)
        try container.encode(preferredUsername, forKey: .preferredUsername)
        if let email = Self.value(email) { try container.encode(email, forKey: .email) }
        if let name = Self.value(name) { try container.encode(name, forKey: .name) }
        if !roles.isEmpty { try container.encode(roles, forKey: .roles) }
        if !groups.isEmpty { try container.encode(groups, forKey: .groups) }
        if !permissions.isEmpty { try container.encode(permissions, forKey: .permissions) }
        try container.encode(amr, forKey: .amr)
        if let tid = Self.value(tid) { try container.encode(tid, forKey: .tid) }
        if let oid = Self.value(oid) { try container.encode(oid, forKey: .oid) }
        try container.encode(iat, forKey: .iat)
        try container.encode(exp, forKey: .exp)
        try container.encode(jti, forKey: .jti)
    }

    /// What jwt-kit checks when verifying (an upstream in Swift, and the tests): not expired.
    /// The audience is the verifier's to check, since only it knows its own name.
    public func verify(using algorithm: some JWTAlgorithm) async throws {
        try ExpirationClaim(value: Date(timeIntervalSince1970: TimeInterval(exp))).verifyNotExpired()
    }
}
