import Foundation

/// What a successful code or refresh-token grant hands out, and the issuing of it.
struct TokenGrant {
    var user: DevIdPUser
    var clientID: String
    var scopes: [String]
    var sid: String
    var nonce: String?
    /// Authentication contexts the sign-in satisfied; carried into every refresh.
    var acrs: [String]

    /// Issues the tokens (recording them in the ledger) and returns the token response.
    ///
    /// A refresh token is issued only for `offline_access`, as in Entra; the ID token only
    /// for `openid`. The ID token is built from the user's directory entry as it is now, so
    /// a role removed by `updateUser` disappears at the next refresh.
    func issue(in state: inout DevIdPState, issuer: String, now: Date) throws -> JSONValue {
        let accessToken = state.ledger.issueAccessToken(userKey: user.key, clientID: clientID, now: now)
        var response: [(String, JSONValue)] = [
            ("token_type", .string("Bearer")),
            ("scope", .string(scopes.joined(separator: " "))),
            ("expires_in", .int(Int(GrantLedger.accessTokenLifetime))),
            ("ext_expires_in", .int(Int(GrantLedger.accessTokenLifetime))),
            ("access_token", .string(accessToken)),
        ]
        if scopes.contains("offline_access") {
            let refresh = RefreshGrant(
                clientID: clientID, userKey: user.key, scopes: scopes, sid: sid, acrs: acrs,
                expires: now + GrantLedger.refreshTokenLifetime)
            response.append(("refresh_token", .string(state.ledger.issueRefreshToken(refresh))))
        }
        if scopes.contains("openid") {
            let claims = IDTokenClaims.make(
                user: user, clientID: clientID, issuer: issuer, nonce: nonce, sid: sid, acrs: acrs, now: now)
            response.append(("id_token", .string(try state.keys.current.sign(claims))))
        }
        return .object(response)
    }

    /// Scope strings are space-separated sets; keep the first occurrence of each.
    static func scopes(_ text: String) -> [String] {
        var seen = Set<String>()
        return text.split(separator: " ").map(String.init).filter { seen.insert($0).inserted }
    }
}
