import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PortcullisAuth
import PortcullisCore
import PortcullisOIDC
import PortcullisSessions

/// Entra ID sign-in for the gateway: the session check on the hot path (synchronous, no
/// I/O) and the control-plane endpoints `/.portcullis/login`, `callback`, `logout`.
///
/// Every decision goes to the audit log (`portcullis.audit`) with the user and the reason,
/// never a token, code, cookie or secret.
public final class SignInService: Sendable {
    let config: GatewayConfig
    let entra: EntraConfig
    let provider: OpenIDProvider
    let http: HTTPClient
    let keyRing: KeyRing
    public let sessions: SessionCache
    let consumedStates: ConsumedStates
    let redirectGuard: RedirectGuard
    let claimsMapping: ClaimsMapping
    let cookies: CookieSettings
    let audit: Logger
    let callbackURL: String
    let now: @Sendable () -> Date

    public static let auditLabel = "portcullis.audit"

    private init(
        config: GatewayConfig, entra: EntraConfig, provider: OpenIDProvider, http: HTTPClient, keyRing: KeyRing,
        audit: Logger, now: @escaping @Sendable () -> Date
    ) {
        self.config = config
        self.entra = entra
        self.provider = provider
        self.http = http
        self.keyRing = keyRing
        self.now = now
        sessions = SessionCache(capacity: config.session.maxSessions, idleTimeout: config.session.idleTimeout)
        consumedStates = ConsumedStates(lifetime: TimeInterval(PendingLogin.lifetime))
        redirectGuard = RedirectGuard(publicURL: config.publicURL, allowedHosts: config.allowedReturnHosts)
        claimsMapping = ClaimsMapping(username: entra.username)
        cookies = CookieSettings(
            sessionCookieName: config.session.cookieName, secure: config.publicURL.isTLS,
            formPost: entra.responseMode == .formPost, sessionMaxAge: Int(config.session.absoluteTimeout))
        self.audit = audit
        callbackURL = config.publicURL.origin + "/.portcullis/callback"
    }

    /// Sign-in for `config`, or nil when it configures none. Loads the client certificate
    /// (failing start-up when it is unusable); the provider is contacted lazily.
    /// - Parameter audit: where sign-in decisions go; a `portcullis.audit` logger by default.
    public static func start(
        config: GatewayConfig, logger: Logger, audit: Logger = Logger(label: auditLabel),
        now: @escaping @Sendable () -> Date = { Date() }
    ) async throws -> SignInService? {
        guard let entra = config.entra else { return nil }
        let keyRing: KeyRing
        if config.session.keys.isEmpty {
            logger.warning("session.keysFile is not set: sessions are sealed with a random key and end when the gateway restarts")
            keyRing = .ephemeral()
        } else {
            keyRing = KeyRing(keys: config.session.keys)
        }
        var assertion: ClientAssertionSigner?
        if case .certificate(let certificate) = entra.credential {
            assertion = try await ClientAssertionSigner(
                clientId: entra.clientId, certificatePEM: certificate.certificatePEM, privateKeyPEM: certificate.privateKey.value)
        }
        let http = OpenIDProvider.makeHTTPClient(timeout: entra.requestTimeout)
        let provider = OpenIDProvider(config: entra, http: http, clientAssertion: assertion, logger: logger, now: now)
        return SignInService(config: config, entra: entra, provider: provider, http: http, keyRing: keyRing, audit: audit, now: now)
    }

    public func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: Hot path

    /// The session a request's cookies carry, if any is live. Any cookie that does not open
    /// (tampered, truncated, foreign key, garbage) simply counts as no session.
    func session(cookieHeaders: [String]) -> Session? {
        guard !cookieHeaders.isEmpty else { return nil }
        let time = now()
        for (name, value) in CookieHeader.pairs(cookieHeaders) where name == cookies.sessionName {
            guard let bytes = keyRing.open(value, context: Self.sessionSealContext), let id = SessionID(bytes: bytes) else { continue }
            if let hit = sessions.lookup(id: id, now: time) { return hit.session }
        }
        return nil
    }

    static let sessionSealContext = "portcullis session"

    // MARK: /.portcullis/login

    func login(query: Substring?, headers: HTTPHeaders, peer: String) async -> LocalAnswer {
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
        } catch {
            audit.error("sign-in unavailable", metadata: ["event": "signin.unavailable", "reason": "\(error)", "peer": "\(peer)"])
            return .page(Self.unavailablePage())
        }
        let time = Int64(now().timeIntervalSince1970)
        let pending = PendingLogin(returnTo: returnTo, now: time)
        var responseHeaders = HTTPHeaders()
        for name in stalePendingCookies(headers["cookie"], now: time) {
            responseHeaders.add(name: "Set-Cookie", value: cookies.deleteCookie(name))
        }
        responseHeaders.add(
            name: "Set-Cookie",
            value: cookies.setCookie(
                PendingLogin.cookieName(prefix: cookies.pendingPrefix, state: Substring(pending.state)),
                value: pending.sealed(with: keyRing), maxAge: Int(PendingLogin.lifetime), sameSite: cookies.pendingSameSite))
        let authorize = FormURLEncoding.encode([
            ("client_id", entra.clientId), ("response_type", "code"), ("redirect_uri", callbackURL),
            ("response_mode", entra.responseMode.rawValue), ("scope", entra.scopes.joined(separator: " ")),
            ("state", pending.state), ("nonce", pending.nonce),
            ("code_challenge", PKCE.challenge(for: pending.codeVerifier)), ("code_challenge_method", PKCE.method),
        ])
        let separator = metadata.authorizationEndpoint.contains("?") ? "&" : "?"
        audit.info("sign-in started", metadata: ["event": "signin.start", "peer": "\(peer)"])
        return .response(Self.redirect(to: metadata.authorizationEndpoint + separator + authorize, headers: responseHeaders))
    }

    /// Pending-login cookies to delete before adding one more: unreadable or expired ones,
    /// and the oldest beyond the per-browser cap.
    func stalePendingCookies(_ cookieHeaders: [String], now time: Int64) -> [Substring] {
        var live: [(name: Substring, created: Int64)] = []
        var stale: [Substring] = []
        for (name, value) in CookieHeader.pairs(cookieHeaders) where name.hasPrefix(cookies.pendingPrefix) {
            if let login = PendingLogin.open(value, with: keyRing, now: time) {
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

    func callback(parameters: [String: String]?, headers: HTTPHeaders, peer: String) async -> LocalAnswer {
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
                if let login = PendingLogin.open(value, with: keyRing, now: time),
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
        } catch {
            if error.kind == .unreachable {
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
        switch await provider.validate(idToken: tokens.idToken, nonce: pending.nonce) {
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
        var identity: Identity
        switch claimsMapping.identity(from: claims) {
        case .identity(let mapped): identity = mapped
        case .rejected(let reason):
            return fail(.forbidden, "signin.identity_refused", reason, message: "Your account's details cannot be used to sign in here. Tell your administrator.")
        case .groupsOverage(let mapped):
            identity = mapped
            switch entra.groupsOverage {
            case .ignore:
                audit.notice("group overage ignored", metadata: ["event": "signin.groups_overage", "user": "\(identity.username)"])
            case .deny:
                return fail(
                    .forbidden, "signin.groups_overage", "user \(identity.username) is in too many groups and groupsOverage is deny",
                    message: "Your account is in too many groups for this application to read. Tell your administrator.")
            case .graph:
                guard let accessToken = tokens.accessToken else {
                    return fail(.forbidden, "signin.groups_overage", "no access token to ask Microsoft Graph for groups", message: "Your group memberships could not be read. Tell your administrator.")
                }
                do {
                    identity.groups = try await provider.groups(accessToken: accessToken)
                } catch {
                    return fail(.serviceUnavailable, "signin.graph_failed", error.description, message: "Your group memberships could not be read. Please try again shortly.")
                }
            }
        }
        let time = now()
        let id = SessionID.random()
        let session = Session(
            id: id, identity: identity, created: time, absoluteExpiry: time.addingTimeInterval(config.session.absoluteTimeout),
            providerSessionID: claims["sid"]?.stringValue ?? parameters["session_state"],
            logoutHint: claims["login_hint"]?.stringValue, refreshToken: tokens.refreshToken)
        sessions.put(session)
        var headers = clearing
        let sealed = keyRing.seal(id.bytes, context: Self.sessionSealContext)
        headers.add(name: "Set-Cookie", value: cookies.setCookie(cookies.sessionName, value: sealed, maxAge: cookies.sessionMaxAge))
        audit.info(
            "signed in",
            metadata: [
                "event": "signin.success", "user": "\(identity.username)", "tid": "\(identity.tenantId ?? "-")",
                "oid": "\(identity.objectId ?? "-")", "roles": "\(identity.roles.count)", "groups": "\(identity.groups.count)",
                "peer": "\(peer)",
            ])
        return .response(Self.redirect(to: pending.returnTo, headers: headers))
    }

    // MARK: Logout

    func logout(headers: HTTPHeaders, peer: String) async -> LocalAnswer {
        var responseHeaders = HTTPHeaders()
        responseHeaders.add(name: "Set-Cookie", value: cookies.deleteCookie(cookies.sessionName))
        let session = self.session(cookieHeaders: headers["cookie"])
        if let session {
            sessions.remove(id: session.id)
            audit.info("signed out", metadata: ["event": "signout", "user": "\(session.identity.username)", "peer": "\(peer)"])
        }
        let signedOut = config.publicURL.origin + "/.portcullis/signed-out"
        if session != nil, let endpoint = try? await provider.metadata().endSessionEndpoint {
            var parameters = [("post_logout_redirect_uri", signedOut), ("client_id", entra.clientId)]
            if let hint = session?.logoutHint { parameters.append(("logout_hint", hint)) }
            let separator = endpoint.contains("?") ? "&" : "?"
            return .response(Self.redirect(to: endpoint + separator + FormURLEncoding.encode(parameters), headers: responseHeaders))
        }
        return .response(Self.redirect(to: "/.portcullis/signed-out", headers: responseHeaders))
    }

    /// Front-channel logout: the provider's hidden iframe names the provider session.
    func frontChannelLogout(query: Substring?, peer: String) -> LocalAnswer {
        if let sid = FormURLEncoding.uniqueParameters(query)?["sid"], !sid.isEmpty {
            let ended = sessions.remove(providerSessionID: sid)
            audit.info("front-channel logout", metadata: ["event": "signout.frontchannel", "sessions": "\(ended)", "peer": "\(peer)"])
        }
        return .response(LocalResponse(status: .ok, contentType: "text/html; charset=utf-8", body: ""))
    }

    // MARK: Responses

    static func redirect(to location: String, headers: HTTPHeaders) -> LocalResponse {
        var headers = headers
        headers.add(name: "Location", value: location)
        let escaped = HTMLText.escaped(location)
        return LocalResponse(status: .found, contentType: "text/html; charset=utf-8", body: "<a href=\"\(escaped)\">Continue</a>\n", headers: headers)
    }

    static func unavailablePage() -> GatewayPage {
        GatewayPage(
            status: .serviceUnavailable, title: "Sign-in is unavailable",
            message: "The sign-in service (Microsoft Entra ID) cannot be reached right now. Please try again in a few minutes.",
            link: ("Try again", "/.portcullis/login"))
    }

    /// Where an unauthenticated browser is sent: the login endpoint, remembering the page.
    static func loginRedirect(path: Substring, query: Substring?) -> LocalResponse {
        var target = String(path)
        if let query { target += "?" + query }
        return redirect(to: "/.portcullis/login?rd=" + FormURLEncoding.encode(target), headers: [:])
    }
}
