import Foundation
import PortcullisCore

/// An authorization code and everything the token endpoint must check it against.
struct AuthorizationCode: Sendable {
    var clientID: String
    var redirectURI: String
    var codeChallenge: String
    var nonce: String?
    var scopes: [String]
    var userKey: String
    /// The tenant the authorize request named, when it named one (not organizations/common).
    var tenantID: String?
    var sid: String
    /// The authentication contexts (`c1`…) this sign-in satisfied, for the ID token's `acrs`:
    /// all those requested, since the development IdP has no policy that could deny one (any
    /// user satisfies any context by being picked).
    var acrs: [String] = []
    var expires: Date
    /// Entra keeps a redeemed code marked used, so a second redemption fails with AADSTS54005
    /// rather than "unknown code".
    var redeemed = false
}

/// A refresh token; rotated on every use, so a used one is `superseded` and rejected.
struct RefreshGrant: Sendable {
    var clientID: String
    var userKey: String
    var scopes: [String]
    var sid: String
    /// Kept from the original sign-in, so a session that stepped up stays stepped up when
    /// refreshed.
    var acrs: [String]
    var expires: Date
    var superseded = false
}

/// What an access token stands for, for the Graph endpoint.
struct AccessGrant: Sendable {
    var userKey: String
    var clientID: String
    var expires: Date
}

/// A sign-in session (`sid`), kept for front-channel logout.
struct SignInSession: Sendable {
    var sid: String
    var userKey: String
    var clientID: String
}

/// Every code, token and session the IdP has handed out, and the client-assertion ids it
/// has seen (a replayed `jti` is refused).
struct GrantLedger: Sendable {
    var codes: [String: AuthorizationCode] = [:]
    var refreshTokens: [String: RefreshGrant] = [:]
    var accessTokens: [String: AccessGrant] = [:]
    var sessions: [String: SignInSession] = [:]
    var assertionIDs: [String: Date] = [:]

    /// Authorization codes live ten minutes, as Entra's do.
    static let codeLifetime: TimeInterval = 600
    static let accessTokenLifetime: TimeInterval = 3600
    /// Entra's refresh tokens live 90 days for confidential clients.
    static let refreshTokenLifetime: TimeInterval = 90 * 86400

    mutating func issueCode(_ code: AuthorizationCode) -> String {
        let value = "1.devidp." + Base64URL.random(bytes: 32)
        codes[value] = code
        sessions[code.sid] = SignInSession(sid: code.sid, userKey: code.userKey, clientID: code.clientID)
        return value
    }

    mutating func issueAccessToken(userKey: String, clientID: String, now: Date) -> String {
        let value = "devidp-at." + Base64URL.random(bytes: 32)
        accessTokens[value] = AccessGrant(userKey: userKey, clientID: clientID, expires: now + Self.accessTokenLifetime)
        return value
    }

    mutating func issueRefreshToken(_ grant: RefreshGrant) -> String {
        let value = "1.devidp-rt." + Base64URL.random(bytes: 48)
        refreshTokens[value] = grant
        return value
    }

    /// Records a client assertion id; `false` if it was seen before. Ids are forgotten once
    /// their assertion has expired, since an expired assertion is refused anyway.
    mutating func recordAssertionID(_ jti: String, expires: Date, now: Date) -> Bool {
        assertionIDs = assertionIDs.filter { $0.value > now }
        guard assertionIDs[jti] == nil else { return false }
        assertionIDs[jti] = expires
        return true
    }

    /// Drops what can no longer be used, so a long-running demo does not grow without bound.
    mutating func sweep(now: Date) {
        codes = codes.filter { $0.value.expires > now - Self.codeLifetime }
        accessTokens = accessTokens.filter { $0.value.expires > now }
        refreshTokens = refreshTokens.filter { $0.value.expires > now }
    }
}
