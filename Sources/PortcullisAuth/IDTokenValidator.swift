import Foundation
import JWTKit
import PortcullisCore

/// What a valid ID token must say, fixed by the config and the pending login.
public struct IDTokenExpectations: Sendable {
    public enum Issuer: Sendable, Equatable {
        /// Single tenant, or any provider: `iss` equals the discovery document's issuer.
        case exact(String)
        /// Entra multi-tenant (`organizations`/`common`): the discovery issuer holds the
        /// literal `{tenantid}`; the token's `tid` is substituted and the result compared,
        /// which ties `iss` and `tid` together (a token from tenant A cannot claim tenant B).
        case tenantTemplate(String)
    }

    public var clientId: String
    public var issuer: Issuer
    /// Tenant GUIDs (lowercased) whose tokens are accepted; empty accepts any.
    public var allowedTenants: Set<String>
    /// The nonce sent in the authorization request; nil for refreshed tokens, which
    /// carry none.
    public var nonce: String?
    public var now: Date
    /// Tolerated clock difference with the provider for `exp`, `nbf` and `iat`.
    public var clockSkew: TimeInterval

    public init(
        clientId: String, issuer: Issuer, allowedTenants: Set<String> = [], nonce: String?, now: Date = Date(),
        clockSkew: TimeInterval = 120
    ) {
        self.clientId = clientId
        self.issuer = issuer
        self.allowedTenants = allowedTenants
        self.nonce = nonce
        self.now = now
        self.clockSkew = clockSkew
    }
}

/// Why an ID token was refused. The description names the check, never the token.
public struct IDTokenRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: Sendable, Equatable {
        case malformed
        case algorithmNotAllowed
        /// The `kid` is not in the key set: the caller refetches the keys (rate-limited)
        /// and tries once more.
        case unknownKey
        case badSignature
        case wrongAudience
        case wrongIssuer
        case tenantNotAllowed
        case expired
        case notYetValid
        case issuedInFuture
        case nonceMismatch
    }

    public var code: Code
    public var detail: String

    public var description: String { detail }
}

/// The provider's signing keys, from its JWKS document.
///
/// Entra's JWKS entries carry no `alg`, and jwt-kit would then build a verifier for
/// whatever algorithm the token's header names; every RSA key is therefore pinned to
/// RS256 here, and the header's `alg` is checked before jwt-kit sees the token.
public struct SigningKeySet: Sendable {
    public let keyIDs: Set<String>
    let collection: JWTKeyCollection

    public init(jwksJSON: Data) async throws {
        let jwks = try JSONDecoder().decode(JWKS.self, from: jwksJSON)
        let collection = JWTKeyCollection()
        var ids: Set<String> = []
        let usable = jwks.keys.filter { $0.keyType == .rsa && $0.keyIdentifier != nil && $0.modulus != nil && $0.exponent != nil }
        for var key in usable {
            key.algorithm = .rs256
            // jwt-kit signs and verifies with its default key when a token names no `kid`.
            // Only a provider with a single key may omit it (some do); with several keys a
            // token without `kid` is refused rather than tried against an arbitrary one.
            try await collection.add(jwk: key, isDefault: usable.count == 1)
            ids.insert(key.keyIdentifier!.string)
        }
        if usable.count != 1 { _ = await collection.clearDefault() }
        self.keyIDs = ids
        self.collection = collection
    }
}

/// Validates an ID token the way the security invariant 3 of docs/architecture.md requires: RS256 only, a known
/// key, the signature, `aud`, `iss` (and `tid` for multi-tenant), the time claims with a
/// small skew, and the `nonce`. Returns the claims of a token that passed every check.
public enum IDTokenValidator {
    public static func validate(
        _ token: String, keys: SigningKeySet, expecting: IDTokenExpectations
    ) async -> Result<[String: ClaimValue], IDTokenRejection> {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard token.utf8.count <= 32_768, segments.count == 3,
            let headerBytes = Base64URL.decode(segments[0]),
            case .object(let header)? = try? JSONValue.parse(Data(headerBytes))
        else { return .failure(reject(.malformed, "the ID token is not a compact JWS")) }
        guard header["alg"]?.stringValue == "RS256" else {
            return .failure(reject(.algorithmNotAllowed, "the ID token is not signed with RS256"))
        }
        guard header["crit"] == nil else {
            return .failure(reject(.malformed, "the ID token has critical header extensions"))
        }
        if let kid = header["kid"] {
            guard let kid = kid.stringValue, keys.keyIDs.contains(kid) else {
                return .failure(reject(.unknownKey, "the ID token is signed with a key the provider does not publish"))
            }
        } else if keys.keyIDs.count != 1 {
            return .failure(reject(.unknownKey, "the ID token names no key and the provider publishes several"))
        }
        let verified: RawClaims
        do {
            verified = try await keys.collection.verify(token, as: RawClaims.self)
        } catch {
            return .failure(reject(.badSignature, "the ID token's signature does not verify"))
        }
        return check(verified.claims, expecting: expecting)
    }

    /// The claim checks, after the signature has been verified.
    static func check(_ claims: [String: ClaimValue], expecting: IDTokenExpectations) -> Result<[String: ClaimValue], IDTokenRejection> {
        switch claims["aud"] {
        case .string(let audience)? where audience == expecting.clientId:
            break
        case .array(let audiences)? where audiences.contains(.string(expecting.clientId)):
            // OIDC Core §3.1.3.7: with several audiences, `azp` must name this client.
            if audiences.count > 1 && claims["azp"]?.stringValue != expecting.clientId {
                return .failure(reject(.wrongAudience, "the ID token has several audiences and azp is not this client"))
            }
        default:
            return .failure(reject(.wrongAudience, "the ID token was issued for another application"))
        }
        guard let issuer = claims["iss"]?.stringValue else {
            return .failure(reject(.wrongIssuer, "the ID token has no issuer"))
        }
        let tenant = claims["tid"]?.stringValue
        switch expecting.issuer {
        case .exact(let expected):
            guard issuer == expected else { return .failure(reject(.wrongIssuer, "the ID token's issuer is not the configured provider")) }
        case .tenantTemplate(let template):
            guard let tenant, UUID(uuidString: tenant) != nil,
                issuer == template.replacingOccurrences(of: "{tenantid}", with: tenant)
            else { return .failure(reject(.wrongIssuer, "the ID token's issuer does not match its tenant")) }
        }
        if !expecting.allowedTenants.isEmpty {
            guard let tenant, expecting.allowedTenants.contains(tenant.lowercased()) else {
                return .failure(reject(.tenantNotAllowed, "the user's tenant is not allowed to sign in"))
            }
        }
        let now = expecting.now.timeIntervalSince1970
        guard let expires = claims["exp"]?.numberValue else { return .failure(reject(.expired, "the ID token has no expiry")) }
        guard now < expires + expecting.clockSkew else { return .failure(reject(.expired, "the ID token has expired")) }
        if let claim = claims["nbf"] {
            guard let notBefore = claim.numberValue, now >= notBefore - expecting.clockSkew else {
                return .failure(reject(.notYetValid, "the ID token is not valid yet"))
            }
        }
        guard let issuedAt = claims["iat"]?.numberValue, issuedAt <= now + expecting.clockSkew else {
            return .failure(reject(.issuedInFuture, "the ID token's issue time is missing or in the future"))
        }
        if let nonce = expecting.nonce {
            guard let claimed = claims["nonce"]?.stringValue, constantTimeEquals(claimed, nonce) else {
                return .failure(reject(.nonceMismatch, "the ID token's nonce does not match this sign-in"))
            }
        }
        return .success(claims)
    }

    static func reject(_ code: IDTokenRejection.Code, _ detail: String) -> IDTokenRejection {
        IDTokenRejection(code: code, detail: detail)
    }

    public static func constantTimeEquals(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }
}

/// The payload as plain JSON, so every claim check is ours (jwt-kit only verifies the
/// signature).
struct RawClaims: JWTPayload {
    var claims: [String: ClaimValue]

    init(from decoder: any Decoder) throws {
        claims = try [String: ClaimValue](from: decoder)
    }

    func encode(to encoder: any Encoder) throws {
        try claims.encode(to: encoder)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
