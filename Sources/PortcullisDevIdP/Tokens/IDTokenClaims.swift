import Crypto
import Foundation
import PortcullisCore

/// The claims of an Entra v2.0 ID token for one user and client, in Entra's order.
enum IDTokenClaims {
    static let lifetime: TimeInterval = 3600

    /// - Parameters:
    ///   - nonce: the authorize request's nonce; only code redemptions carry one (Entra
    ///     leaves it out of tokens from refresh grants).
    ///   - acrs: the Conditional Access authentication contexts satisfied (`c1`…); the claim
    ///     is left out when there are none, as Entra does.
    static func make(
        user: DevIdPUser, clientID: String, issuer: String, nonce: String?, sid: String, acrs: [String], now: Date
    ) -> JSONValue {
        let issuedAt = Int(now.timeIntervalSince1970)
        var claims: [(String, JSONValue)] = [
            ("aud", .string(clientID)),
            ("iss", .string(issuer)),
            ("iat", .int(issuedAt)),
            ("nbf", .int(issuedAt)),
            ("exp", .int(issuedAt + Int(lifetime))),
        ]
        if !acrs.isEmpty { claims.append(("acrs", .array(acrs.map(JSONValue.string)))) }
        if let email = user.email { claims.append(("email", .string(email))) }
        if user.groupOverage {
            // Entra's overage marker: the groups are too many for the token, ask the directory.
            claims.append(("_claim_names", .object([("groups", .string("src1"))])))
            claims.append(
                ("_claim_sources",
                 .object([("src1", .object([("endpoint", .string("https://graph.windows.net/\(user.tid)/users/\(user.oid)/getMemberObjects"))]))])))
        } else if !user.groups.isEmpty {
            claims.append(("groups", .array(user.groups.map(JSONValue.string))))
        }
        claims.append(("name", .string(user.name)))
        if let nonce { claims.append(("nonce", .string(nonce))) }
        claims.append(("oid", .string(user.oid)))
        claims.append(("preferred_username", .string(user.preferredUsername)))
        claims.append(("rh", .string("0.devidp." + Base64URL.random(bytes: 24))))
        if !user.roles.isEmpty { claims.append(("roles", .array(user.roles.map(JSONValue.string)))) }
        claims.append(("sid", .string(sid)))
        claims.append(("sub", .string(subject(oid: user.oid, clientID: clientID))))
        claims.append(("tid", .string(user.tid)))
        if let upn = user.upn { claims.append(("upn", .string(upn))) }
        claims.append(("uti", .string(Base64URL.random(bytes: 16))))
        claims.append(("ver", .string("2.0")))
        return .object(claims)
    }

    /// Entra's `sub` is pairwise: stable for one user and one application, different across
    /// applications, so a gateway must key on `oid` (or `sub` only within one app).
    static func subject(oid: String, clientID: String) -> String {
        Base64URL.encode(SHA256.hash(data: Data((oid.lowercased() + clientID.lowercased()).utf8)))
    }
}
