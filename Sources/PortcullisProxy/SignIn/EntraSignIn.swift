import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PortcullisAuth
import PortcullisCore
import PortcullisOIDC
import PortcullisSessions

/// Microsoft Entra ID sign-in (OpenID Connect, authorization code + PKCE): the endpoints
/// `/.portcullis/login`, `callback` and `frontchannel-logout`, and the revalidation of the
/// sessions it created (refresh token → fresh ID token → identity again).
///
/// Built per config (a reload with a rotated secret or certificate builds a new one, used
/// from the next sign-in); the HTTP client, the consumed states and the session gate it uses
/// live for the process. Every decision goes to the audit log (`portcullis.audit`) with the
/// user and the reason, never a token, code, cookie or secret.
final class EntraSignIn: SignInMethod, SessionRevalidator {
    let config: GatewayConfig
    let entra: EntraConfig
    let provider: OpenIDProvider
    let gate: SessionGate
    let consumedStates: ConsumedStates
    let redirectGuard: RedirectGuard
    let claimsMapping: ClaimsMapping
    let audit: Logger
    let callbackURL: String
    let now: @Sendable () -> Date
    /// Counts Entra failing in a row, for `sso.autoFallbackAfter`.
    let health: LocalSignInState

    var method: Identity.Method { .sso }

    private init(config: GatewayConfig, entra: EntraConfig, provider: OpenIDProvider, services: GatewayServices) {
        self.config = config
        self.entra = entra
        self.provider = provider
        gate = services.gate
        consumedStates = services.consumedStates
        audit = services.audit
        now = services.now
        health = services.localSignIn
        redirectGuard = RedirectGuard(publicURL: config.publicURL, allowedHosts: config.allowedReturnHosts)
        claimsMapping = ClaimsMapping(username: entra.username)
        callbackURL = config.publicURL.origin + "/.portcullis/callback"
    }

    /// Entra sign-in for `config`, or nil when it configures none. Loads the client
    /// certificate (throwing when it is unusable); the provider is contacted lazily.
    static func make(config: GatewayConfig, services: GatewayServices) async throws -> EntraSignIn? {
        guard let entra = config.entra else { return nil }
        var assertion: ClientAssertionSigner?
        if case .certificate(let certificate) = entra.credential {
            assertion = try await ClientAssertionSigner(
                clientId: entra.clientId, certificatePEM: certificate.certificatePEM, privateKeyPEM: certificate.privateKey.value)
        }
        let metrics = services.metrics
        let provider = OpenIDProvider(
            config: entra, http: services.oidcClient, clientAssertion: assertion, logger: services.logger, now: services.now,
            observe: { call, seconds, failed in metrics.providerCall(call, seconds: seconds, failed: failed) })
        return EntraSignIn(config: config, entra: entra, provider: provider, services: services)
    }

    // MARK: Entra's health (sso.autoFallbackAfter)

    /// Entra answered: an automatic fallback to local sign-in in force ends, audited.
    private func entraAnswered() {
        let before = health.entraAnswered()
        guard config.sso.enabled, let limit = config.sso.autoFallbackAfter, before >= limit else { return }
        audit.notice(
            "Entra answers again: the automatic fallback to local sign-in ends",
            metadata: ["event": "sso.fallback_ended", "failuresInARow": "\(before)"])
    }

    /// Entra could not be used: at the `autoFallbackAfter`-th failure in a row local sign-in
    /// opens to every local user, audited once.
    private func entraFailed() {
        let failures = health.entraFailed()
        guard config.sso.enabled, let limit = config.sso.autoFallbackAfter, failures == limit else { return }
        audit.warning(
            "Entra failed \(limit) times in a row: local sign-in is open to every local user until it answers",
            metadata: ["event": "sso.fallback_started", "failuresInARow": "\(failures)"])
    }

    // MARK: Endpoints

    func answer(_ request: EndpointRequest, rules: SessionRules) -> LocalAnswer? {
        let headers = request.head.headers, peer = request.peer, eventLoop = request.eventLoop
        switch (request.name, request.head.method) {
        case ("login", .GET), ("login", .HEAD):
            let query = request.target.query.map(String.init)
            return .deferred(eventLoop.makeFutureWithTask { await self.login(query: query.map { Substring($0) }, headers: headers, peer: peer, rules: rules) })
        case ("callback", .GET):
            let parameters = FormURLEncoding.uniqueParameters(request.target.query)
            return .deferred(eventLoop.makeFutureWithTask { await self.callback(parameters: parameters, headers: headers, peer: peer, rules: rules) })
        case ("callback", .POST):
            // response_mode=form_post: the code arrives in a form body.
            return .withBody(limit: 64 * 1024) { body in
                let parameters = FormURLEncoding.uniqueParameters(Substring(String(buffer: body)))
                return .deferred(eventLoop.makeFutureWithTask { await self.callback(parameters: parameters, headers: headers, peer: peer, rules: rules) })
            }
        case ("frontchannel-logout", .GET):
            let query = request.target.query.map { String($0) }
            return .deferred(eventLoop.makeFutureWithTask { await self.frontChannelLogout(query: query.map { Substring($0) }, peer: peer) })
        case ("login", _), ("callback", _), ("frontchannel-logout", _):
            return GatewayEndpoints.methodNotAllowed
        default:
            return nil
        }
    }

    // MARK: /.portcullis/login

    func login(query: Substring?, headers: HTTPHeaders, peer: String, rules: SessionRules) async -> LocalAnswer {
        let parameters = FormURLEncoding.uniqueParameters(query) ?? [:]
        var returnTo = "/"
        if let requested = parameters["rd"] {
            switch redirectGuard.check(requested) {
            case .success(let value): returnTo = value
            case .failure(let rejection):
                audit.warning("return URL refused", metadata: ["event": "signin.redirect_refused", "reason": "\(rejection.reason)", "peer": "\(peer)"])
            }
        }
        let metadata: ProviderMetadata
        do {
            metadata = try await provider.metadata()
            entraAnswered()
        } catch {
            entraFailed()
            audit.error("sign-in unavailable", metadata: ["event": "signin.unavailable", "reason": "\(error)", "peer": "\(peer)"])
            return .page(Self.unavailablePage())
        }
        let time = Int64(now().timeIntervalSince1970)
        var pending = PendingLogin(returnTo: returnTo, now: time)
        pending.authContext = parameters["authContext"].flatMap { RouteConfig.isAuthContextID($0) ? $0 : nil }
        var responseHeaders = HTTPHeaders()
        let cookies = rules.cookies
        for name in stalePendingCookies(headers["cookie"], rules: rules, now: time) {
            responseHeaders.add(name: "Set-Cookie", value: cookies.deleteCookie(name))
        }
        responseHeaders.add(
            name: "Set-Cookie",
            value: cookies.setCookie(
                PendingLogin.cookieName(prefix: cookies.pendingPrefix, state: Substring(pending.state)),
                value: pending.sealed(with: rules.keyRing), maxAge: Int(PendingLogin.lifetime), sameSite: cookies.pendingSameSite))
        let authorize = FormURLEncoding.encode([
            ("client_id", entra.clientId), ("response_type", "code"), ("redirect_uri", callbackURL),
            ("response_mode", entra.responseMode.rawValue), ("scope", entra.scopes.joined(separator: " ")),
            ("state", pending.state), ("nonce", pending.nonce),
            ("code_challenge", PKCE.challenge(for: pending.codeVerifier)), ("code_challenge_method", PKCE.method),
        ] + hints(parameters) + authContextClaims(parameters))
        let separator = metadata.authorizationEndpoint.contains("?") ? "&" : "?"
        audit.info("sign-in started", metadata: ["event": "signin.start", "peer": "\(peer)"])
        return .response(SignInResponses.redirect(to: metadata.authorizationEndpoint + separator + authorize, headers: responseHeaders))
    }

    /// Step-up for a route's authentication context: the `claims` request parameter asking for
    /// it in the ID token's `acrs` (Entra Conditional Access then applies that context's
    /// policy, MFA say). Only a well-formed context id is passed on.
    func authContextClaims(_ parameters: [String: String]) -> [(String, String)] {
        guard let context = parameters["authContext"], RouteConfig.isAuthContextID(context) else { return [] }
        return [("claims", #"{"id_token":{"acrs":{"essential":true,"value":""# + context + #""}}}"#)]
    }

    /// `login_hint` from the email-first step (a single line, bounded), and `domain_hint`.
    func hints(_ parameters: [String: String]) -> [(String, String)] {
        var hints: [(String, String)] = []
        if let hint = parameters["login_hint"]?.trimmingCharacters(in: .whitespaces), !hint.isEmpty, hint.utf8.count <= 256,
            !hint.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        {
            hints.append(("login_hint", hint))
        }
        if let domain = config.sso.domainHint { hints.append(("domain_hint", domain)) }
        return hints
    }

    /// Pending-login cookies to delete before adding one more: unreadable or expired ones,
    /// and the oldest beyond the per-browser cap.
    func stalePendingCookies(_ cookieHeaders: [String], rules: SessionRules, now time: Int64) -> [Substring] {
        let cookies = rules.cookies
        var live: [(name: Substring, created: Int64)] = []
        var stale: [Substring] = []
        for (name, value) in CookieHeader.pairs(cookieHeaders) where name.hasPrefix(cookies.pendingPrefix) {
            if let login = PendingLogin.open(value, with: rules.keyRing, now: time) {
                live.append((name, login.created))
            } else {
                stale.append(name)
            }
        }
        live.sort { $0.created < $1.created }
        let excess = live.count - (PendingLogin.maximumPerBrowser - 1)
        if excess > 0 { stale += live.prefix(excess).map(\.name) }
        return stale
    }

    // MARK: /.portcullis/callback

    func callback(parameters: [String: String]?, headers: HTTPHeaders, peer: String, rules: SessionRules) async -> LocalAnswer {
        let cookies = rules.cookies
        var clearing = HTTPHeaders()
        func fail(_ status: HTTPResponseStatus, _ event: String, _ reason: String, title: String = "Sign-in failed", message: String, detail: String? = nil) -> LocalAnswer {
            audit.warning("sign-in refused", metadata: ["event": "\(event)", "reason": "\(reason)", "peer": "\(peer)"])
            return .page(
                GatewayPage(
                    status: status, title: title, message: message, detail: detail,
                    link: ("Sign in again", "/.portcullis/login"), headers: clearing))
        }
        guard let parameters else {
            return fail(.badRequest, "signin.bad_callback", "malformed or repeated callback parameters", message: "The sign-in response was malformed.")
        }
        let state = parameters["state"] ?? ""
        // The pending login this callback belongs to, found by the state's prefix and then
        // compared in full; deleted whatever happens next (one attempt per login).
        var pending: PendingLogin?
        if !state.isEmpty {
            let name = PendingLogin.cookieName(prefix: cookies.pendingPrefix, state: Substring(state))
            let time = Int64(now().timeIntervalSince1970)
            for (cookieName, value) in CookieHeader.pairs(headers["cookie"]) where cookieName == name {
                clearing.replaceOrAdd(name: "Set-Cookie", value: cookies.deleteCookie(name))
                if let login = PendingLogin.open(value, with: rules.keyRing, now: time),
                    IDTokenValidator.constantTimeEquals(login.state, state)
                {
                    pending = login
                }
            }
        }
        if let error = parameters["error"] {
            let text = ProviderErrorText(error: error, description: parameters["error_description"])
            var detail: [String] = []
            if let code = text.code { detail.append("Error \(code)") }
            if let correlation = text.correlationID { detail.append("Correlation ID \(correlation)") }
            return fail(
                .forbidden, "signin.provider_error", "provider returned \(TokenResponse.safeWord(error) ?? "-") \(text.code ?? "")",
                title: text.title, message: text.message, detail: detail.isEmpty ? nil : detail.joined(separator: " · "))
        }
        guard let pending else {
            return fail(
                .badRequest, "signin.no_pending_login", "no pending sign-in matches the state (expired, another browser, or forged)",
                message: "This sign-in link has expired or was not started in this browser. Please sign in again.")
        }
        guard consumedStates.consume(pending.state, now: now()) else {
            return fail(.badRequest, "signin.replayed", "the state was already used", message: "This sign-in response was already used. Please sign in again.")
        }
        guard let code = parameters["code"], !code.isEmpty else {
            return fail(.badRequest, "signin.no_code", "the callback carries no code", message: "The sign-in response was incomplete.")
        }
        let tokens: TokenResponse
        do {
            tokens = try await provider.exchange(code: code, codeVerifier: pending.codeVerifier, redirectURI: callbackURL)
            entraAnswered()
        } catch {
            if error.kind == .unreachable {
                entraFailed()
                audit.error("sign-in unavailable", metadata: ["event": "signin.unavailable", "reason": "\(error)", "peer": "\(peer)"])
                var page = Self.unavailablePage()
                page.headers = clearing
                return .page(page)
            }
            let text = ProviderErrorText(error: error.oauthError ?? "server_error", description: error.errorCodes.first.map { "AADSTS\($0)" })
            return fail(
                .forbidden, "signin.token_refused", error.description, message: text.message,
                detail: error.correlationID.map { "Correlation ID \($0)" })
        }
        let claims: [String: ClaimValue]
        switch await provider.validate(idToken: tokens.idToken ?? "", nonce: pending.nonce) {
        case .success(let validated): claims = validated
        case .failure(.provider(let error)):
            audit.error("sign-in unavailable", metadata: ["event": "signin.unavailable", "reason": "\(error)", "peer": "\(peer)"])
            var page = Self.unavailablePage()
            page.headers = clearing
            return .page(page)
        case .failure(.token(let rejection)) where rejection.code == .tenantNotAllowed:
            return fail(.forbidden, "signin.tenant_refused", rejection.description, message: "Your account's organisation is not allowed to use this application.")
        case .failure(.token(let rejection)):
            return fail(.forbidden, "signin.token_invalid", rejection.description, message: "The sign-in could not be verified. Please try again.")
        }
        let identity: Identity
        switch await self.identity(from: claims, accessToken: tokens.accessToken) {
        case .success(let resolved): identity = resolved
        case .failure(let refusal):
            return fail(refusal.status, refusal.event, refusal.reason, message: refusal.message)
        }
        if let context = pending.authContext, !identity.authContexts.contains(context) {
            // Entra did not satisfy the context (its policy could not be met): stop here, or the
            // route would send the browser back to sign in, round and round.
            return fail(
                .forbidden, "signin.step_up_incomplete", "user \(identity.username): the ID token lacks authentication context \(context)",
                message: "The extra verification this page needs was not completed. Ask your administrator if this keeps happening.")
        }
        let sessionCookie: String
        do {
            sessionCookie = try await gate.create(
                identity, providerSessionID: claims["sid"]?.stringValue ?? parameters["session_state"],
                logoutHint: claims["login_hint"]?.stringValue, refreshToken: tokens.refreshToken, rules: rules)
        } catch {
            audit.error("sign-in unavailable", metadata: ["event": "signin.store_unavailable", "reason": "\(error)", "peer": "\(peer)"])
            var page = SignInResponses.sessionsUnavailablePage()
            page.headers = clearing
            return .page(page)
        }
        var headers = clearing
        headers.add(name: "Set-Cookie", value: sessionCookie)
        audit.info(
            "signed in",
            metadata: [
                "event": "signin.success", "user": "\(identity.username)", "tid": "\(identity.tenantId ?? "-")",
                "oid": "\(identity.objectId ?? "-")", "roles": "\(identity.roles.count)", "groups": "\(identity.groups.count)",
                "peer": "\(peer)",
            ])
        return .response(SignInResponses.redirect(to: pending.returnTo, headers: headers))
    }

    /// Why an account's claims give no usable identity.
    struct IdentityRefusal: Error {
        var status: HTTPResponseStatus
        var event: String
        var reason: String
        var message: String
    }

    /// Claims → identity, reading groups from Microsoft Graph on overage when configured.
    /// Shared by sign-in and revalidation, so both apply the same rules.
    func identity(from claims: [String: ClaimValue], accessToken: String?) async -> Result<Identity, IdentityRefusal> {
        switch claimsMapping.identity(from: claims) {
        case .identity(let mapped):
            return .success(mapped)
        case .rejected(let reason):
            return .failure(
                IdentityRefusal(
                    status: .forbidden, event: "signin.identity_refused", reason: reason,
                    message: "Your account's details cannot be used to sign in here. Tell your administrator."))
        case .groupsOverage(var identity):
            switch entra.groupsOverage {
            case .ignore:
                audit.notice("group overage ignored", metadata: ["event": "signin.groups_overage", "user": "\(identity.username)"])
                return .success(identity)
            case .deny:
                return .failure(
                    IdentityRefusal(
                        status: .forbidden, event: "signin.groups_overage",
                        reason: "user \(identity.username) is in too many groups and groupsOverage is deny",
                        message: "Your account is in too many groups for this application to read. Tell your administrator."))
            case .graph:
                guard let accessToken else {
                    return .failure(
                        IdentityRefusal(
                            status: .forbidden, event: "signin.groups_overage", reason: "no access token to ask Microsoft Graph for groups",
                            message: "Your group memberships could not be read. Tell your administrator."))
                }
                do {
                    identity.groups = try await provider.groups(accessToken: accessToken)
                    return .success(identity)
                } catch {
                    return .failure(
                        IdentityRefusal(
                            status: .serviceUnavailable, event: "signin.graph_failed", reason: error.description,
                            message: "Your group memberships could not be read. Please try again shortly."))
                }
            }
        }
    }

    // MARK: Logout

    /// RP-initiated logout at Entra's end-session endpoint, back to the signed-out page.
    func signOutRedirect(for session: Session) async -> String? {
        guard let endpoint = try? await provider.metadata().endSessionEndpoint else { return nil }
        let signedOut = config.publicURL.origin + "/.portcullis/signed-out"
        var parameters = [("post_logout_redirect_uri", signedOut), ("client_id", entra.clientId)]
        if let hint = session.logoutHint { parameters.append(("logout_hint", hint)) }
        let separator = endpoint.contains("?") ? "&" : "?"
        return endpoint + separator + FormURLEncoding.encode(parameters)
    }

    /// Front-channel logout: the provider's hidden iframe names the provider session; the
    /// iframe may carry no cookie, so sessions are found by `sid` (with or without `iss`).
    func frontChannelLogout(query: Substring?, peer: String) async -> LocalAnswer {
        let done = LocalAnswer.response(LocalResponse(status: .ok, contentType: "text/html; charset=utf-8", body: ""))
        guard let parameters = FormURLEncoding.uniqueParameters(query), let sid = parameters["sid"], !sid.isEmpty else { return done }
        // An `iss` naming another provider is not ours to act on (without `iss`, Entra's
        // own form, the `sid` alone decides).
        if let iss = parameters["iss"] {
            guard let metadata = try? await provider.metadata(), Self.issuer(iss, matches: metadata.issuer) else {
                audit.warning(
                    "front-channel logout ignored", metadata: ["event": "signout.frontchannel_refused", "reason": "foreign or unverifiable issuer", "peer": "\(peer)"])
                return done
            }
        }
        let ended = await gate.endAll(providerSessionID: sid)
        audit.info("front-channel logout", metadata: ["event": "signout.frontchannel", "sessions": "\(ended)", "peer": "\(peer)"])
        return done
    }

    /// `iss` against the discovery issuer, whose `{tenantid}` (multi-tenant) stands for a
    /// tenant GUID, as in ID-token validation.
    static func issuer(_ iss: String, matches expected: String) -> Bool {
        guard let range = expected.range(of: "{tenantid}") else { return iss == expected }
        let prefix = expected[..<range.lowerBound], suffix = expected[range.upperBound...]
        guard iss.hasPrefix(prefix), iss.hasSuffix(suffix), iss.count > prefix.count + suffix.count else { return false }
        return UUID(uuidString: String(iss.dropFirst(prefix.count).dropLast(suffix.count))) != nil
    }

    // MARK: Revalidation

    func revalidatesEarly(_ session: Session) -> Bool { session.hasRefreshToken }

    /// Ready when Entra's discovery document is at hand (fetched now, or cached from a recent
    /// fetch: the provider keeps the last good one through an outage). With SSO switched off
    /// Entra is not used, so it cannot make the gateway unready.
    func readinessProblem() async -> String? {
        guard config.sso.enabled else { return nil }
        do {
            _ = try await provider.metadata()
            return nil
        } catch {
            return "sign-in provider: \(error.description)"
        }
    }

    /// With the SSO switch off and `sso.offEndsSessions`, SSO sessions end at their next request.
    var ssoOffEndsSessions: Bool { !config.sso.enabled && config.sso.offEndsSessions }

    func isDue(_ session: Session, rules: SessionRules, now: Date) -> Bool {
        ssoOffEndsSessions || now >= session.validated.addingTimeInterval(rules.revalidateEvery)
    }

    /// Refresh token → fresh ID token → identity again (roles, groups, username). Entra
    /// refusing ends the session; Entra unreachable keeps it within the outage grace.
    func revalidate(_ session: Session) async -> Revalidation {
        if ssoOffEndsSessions {
            return .refused(event: "session.sso_off_ended", reason: "the SSO switch is off and sso.offEndsSessions is set")
        }
        guard let refreshToken = session.refreshToken else {
            return .refused(event: "session.revalidation_impossible", reason: "no refresh token (is offline_access among the scopes?)")
        }
        let tokens: TokenResponse
        do {
            tokens = try await provider.refresh(refreshToken: refreshToken)
            entraAnswered()
        } catch {
            if Self.isOutage(error) {
                entraFailed()
                return .unreachable(reason: error.description)
            }
            return .refused(event: "session.revalidation_refused", reason: error.description)
        }
        // Fresh claims, or the session ends: carrying stale roles and groups would keep a user
        // removed from a group inside the routes it opened, indefinitely.
        let claims: [String: ClaimValue]
        if let idToken = tokens.idToken {
            switch await provider.validate(idToken: idToken, nonce: nil) {
            case .success(let validated): claims = validated
            case .failure(.provider(let error)): return .unreachable(reason: error.description)
            case .failure(.token(let rejection)): return .refused(event: "session.revalidation_refused", reason: rejection.description)
            }
        } else {
            // Some providers answer a refresh without an ID token: ask UserInfo (OIDC Core §5.3).
            do {
                guard let accessToken = tokens.accessToken, let fetched = try await provider.userInfo(accessToken: accessToken) else {
                    return .refused(
                        event: "session.revalidation_no_claims",
                        reason: "the refresh brought no ID token and no fresh claims could be had (no access token or userinfo endpoint)")
                }
                claims = fetched
            } catch {
                if Self.isOutage(error) { return .unreachable(reason: error.description) }
                return .refused(event: "session.revalidation_no_claims", reason: error.description)
            }
        }
        if let changed = Self.accountChange(from: session.identity, to: claims) {
            return .refused(event: "session.identity_changed", reason: changed)
        }
        var identity: Identity
        switch await self.identity(from: claims, accessToken: tokens.accessToken) {
        case .success(let refreshed): identity = refreshed
        case .failure(let refusal) where refusal.status == .serviceUnavailable: return .unreachable(reason: refusal.reason)
        case .failure(let refusal): return .refused(event: refusal.event, reason: refusal.reason)
        }
        // UserInfo carries no groups at Entra: where groups come from Graph, ask it again.
        if tokens.idToken == nil, claims["groups"] == nil, entra.groupsOverage == .graph, let accessToken = tokens.accessToken {
            do {
                identity.groups = try await provider.groups(accessToken: accessToken)
            } catch {
                if Self.isOutage(error) { return .unreachable(reason: error.description) }
                return .refused(event: "session.revalidation_no_claims", reason: "groups from Microsoft Graph: \(error.description)")
            }
        }
        return .confirmed(identity, refreshToken: tokens.refreshToken ?? refreshToken)
    }

    /// Why fresh claims belong to another account than the session's, or nil when they are
    /// the same one: `sub` always (when the session recorded it), `oid` and `tid` when both
    /// sides have them. A refresh must never change who a session is.
    static func accountChange(from identity: Identity, to claims: [String: ClaimValue]) -> String? {
        let subject = claims["sub"]?.stringValue
        if subject == nil { return "the fresh claims have no sub" }
        if let known = identity.subject, known != subject { return "the fresh claims name another subject (sub changed)" }
        if let known = identity.objectId, let oid = claims["oid"]?.stringValue, known.lowercased() != oid.lowercased() {
            return "the fresh claims name another object id (oid changed)"
        }
        if let known = identity.tenantId, let tid = claims["tid"]?.stringValue, known.lowercased() != tid.lowercased() {
            return "the fresh claims name another tenant (tid changed)"
        }
        return nil
    }

    /// Entra down or failing, as opposed to Entra refusing this session: no answer, an
    /// unreadable one, or an OAuth error that says "try later".
    static func isOutage(_ error: ProviderError) -> Bool {
        switch error.kind {
        case .unreachable, .badResponse: true
        case .oauth: error.oauthError == "temporarily_unavailable" || error.oauthError == "server_error"
        }
    }

    // MARK: Responses

    static func unavailablePage() -> GatewayPage {
        GatewayPage(
            status: .serviceUnavailable, title: "Sign-in is unavailable",
            message: "The sign-in service (Microsoft Entra ID) cannot be reached right now. Please try again in a few minutes.",
            link: ("Try again", "/.portcullis/login"))
    }
}
