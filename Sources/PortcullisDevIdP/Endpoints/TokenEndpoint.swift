import Crypto
import Foundation
import PortcullisCore

/// The token endpoint: authorization-code (with PKCE) and refresh-token grants.
///
/// Each grant is checked and consumed in one locked step, so two concurrent redemptions of
/// one code or refresh token cannot both succeed.
struct TokenEndpoint {
    let authority: DevIdPAuthority

    func respond(to request: DevIdPRequest, segment: String, tenant: TenantSegment) -> DevIdPResponse {
        guard request.method == .POST else {
            return .error(EntraError("invalid_request", 900561, "The endpoint only accepts POST, OPTIONS requests. Received a \(request.method.rawValue) request."))
        }
        guard let form = request.form else {
            return .error(EntraError("invalid_request", 900144, "The request body is not valid application/x-www-form-urlencoded."))
        }
        let now = authority.now()
        let base = authority.baseURL
        var audiences = ["\(base)/\(segment)/oauth2/v2.0/token"]
        if let id = tenant.tenantID { audiences.append("\(base)/\(id)/oauth2/v2.0/token") }
        do {
            let client = try ClientAuthentication(authority: authority, now: now)
                .authenticate(request, form: form, audiences: audiences)
            switch form.value("grant_type") {
            case nil:
                throw EntraError.missingParameter("grant_type")
            case "authorization_code":
                return .json(try redeemCode(form, client: client, tenant: tenant, now: now))
            case "refresh_token":
                return .json(try refresh(form, client: client, tenant: tenant, now: now))
            case let other?:
                throw EntraError("unsupported_grant_type", 70003, "The app requested an unsupported grant type '\(other)'.")
            }
        } catch let error as EntraError {
            return .error(error)
        } catch {
            return .error(EntraError("server_error", 90000, "Token issuance failed: \(error)", status: .internalServerError))
        }
    }

    private func redeemCode(_ form: FormParameters, client: DevIdPClient, tenant: TenantSegment, now: Date) throws -> JSONValue {
        guard let value = form.value("code") else { throw EntraError.missingParameter("code") }
        guard let redirectURI = form.value("redirect_uri") else { throw EntraError.missingParameter("redirect_uri") }
        let issuerOf = authority.issuer
        return try authority.state.withLockedValue { state in
            state.ledger.sweep(now: now)
            guard var code = state.ledger.codes[value] else {
                throw invalidGrant(70000, "The provided value for the 'code' parameter is not valid.")
            }
            guard code.clientID == client.clientId else {
                throw invalidGrant(70000, "The provided value for the 'code' parameter is not valid: it was issued to another client.")
            }
            guard !code.redeemed else {
                throw invalidGrant(54005, "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.")
            }
            guard code.expires > now else {
                throw invalidGrant(70008, "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.")
            }
            guard code.redirectURI == redirectURI else {
                throw invalidGrant(500112, "The reply address '\(redirectURI)' does not match the reply address '\(code.redirectURI)' provided when requesting Authorization code.")
            }
            guard let verifier = form.value("code_verifier"),
                Base64URL.encode(SHA256.hash(data: Data(verifier.utf8))) == code.codeChallenge
            else {
                throw invalidGrant(501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.")
            }
            guard let user = state.directory.user(code.userKey) else {
                throw invalidGrant(50034, "The user account '\(code.userKey)' does not exist in the directory.")
            }
            try checkTenant(tenant, user: user)
            code.redeemed = true
            state.ledger.codes[value] = code
            let grant = TokenGrant(
                user: user, clientID: client.clientId, scopes: code.scopes, sid: code.sid, nonce: code.nonce, acrs: code.acrs)
            return try grant.issue(in: &state, issuer: issuerOf(user.tid), now: now)
        }
    }

    /// Refresh tokens rotate: the used one is superseded and refused from then on, so a
    /// gateway that keeps using an old one is caught. The new ID token reflects the user's
    /// current directory entry (roles, groups, disabled, sign-in error).
    private func refresh(_ form: FormParameters, client: DevIdPClient, tenant: TenantSegment, now: Date) throws -> JSONValue {
        guard let value = form.value("refresh_token") else { throw EntraError.missingParameter("refresh_token") }
        let issuerOf = authority.issuer
        return try authority.state.withLockedValue { state in
            state.ledger.sweep(now: now)
            guard var grant = state.ledger.refreshTokens[value] else {
                throw invalidGrant(9002313, "Invalid request. Request is malformed or invalid: unknown refresh token.")
            }
            guard !grant.superseded else {
                throw invalidGrant(50173, "The provided grant has expired due to it being revoked, a fresh auth token is needed. (The refresh token was already used; refresh tokens rotate.)")
            }
            guard grant.expires > now else {
                throw invalidGrant(700082, "The refresh token has expired due to inactivity.")
            }
            guard grant.clientID == client.clientId else {
                throw invalidGrant(70000, "The refresh token was issued to a different client.")
            }
            guard let user = state.directory.user(grant.userKey) else {
                throw invalidGrant(50034, "The user account '\(grant.userKey)' does not exist in the directory.")
            }
            guard !user.disabled else { throw invalidGrant(50057, "The user account is disabled.") }
            if let signInError = user.signInError {
                var error = EntraError.simulatedSignIn(signInError, user: user, clientID: client.clientId)
                error.error = "invalid_grant"
                throw error
            }
            try checkTenant(tenant, user: user)
            grant.superseded = true
            state.ledger.refreshTokens[value] = grant
            let next = TokenGrant(
                user: user, clientID: client.clientId, scopes: grant.scopes, sid: grant.sid, nonce: nil, acrs: grant.acrs)
            return try next.issue(in: &state, issuer: issuerOf(user.tid), now: now)
        }
    }

    /// A token endpoint under one tenant only serves that tenant's users.
    private func checkTenant(_ tenant: TenantSegment, user: DevIdPUser) throws {
        guard tenant.allows(user) else {
            throw invalidGrant(700005, "Provided Authorization Code is intended to use against other tenant, thus rejected.")
        }
    }

    private func invalidGrant(_ code: Int, _ message: String) -> EntraError {
        EntraError("invalid_grant", code, message)
    }
}
