import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PortcullisAuth
import PortcullisCore
import PortcullisOIDC
import PortcullisSessions
import Synchronization

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
    let sessions: GatewaySessions
    /// Revalidations in flight, one per session however many requests wait on it.
    let revalidations = Mutex<[SessionID: Task<SessionResolution, Never>]>([:])
    /// Sessions whose revalidation found Entra unreachable: not retried before this time.
    let outageRetries = Mutex<[SessionID: Date]>([:])
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
        sessions: GatewaySessions, audit: Logger, now: @escaping @Sendable () -> Date
    ) {
        self.config = config
        self.entra = entra
        self.provider = provider
        self.http = http
        self.keyRing = keyRing
        self.now = now
        self.sessions = sessions
        consumedStates = ConsumedStates(lifetime: TimeInterval(PendingLogin.lifetime))
        redirectGuard = RedirectGuard(publicURL: config.publicURL, allowedHosts: config.allowedReturnHosts)
        claimsMapping = ClaimsMapping(username: entra.username)
        cookies = CookieSettings(
            sessionCookieName: config.session.cookieName, secure: config.publicURL.isTLS,
            formPost: entra.responseMode == .formPost,
            sessionMaxAge: config.session.persistentCookie ? Int(config.session.absoluteTimeout) : nil,
            sessionDomain: config.session.cookieDomain)
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
        let sessions = try GatewaySessions(config: config.session, keyRing: keyRing, logger: logger)
        let http = OpenIDProvider.makeHTTPClient(timeout: entra.requestTimeout)
        let provider = OpenIDProvider(config: entra, http: http, clientAssertion: assertion, logger: logger, now: now)
        sessions.start()
        return SignInService(
            config: config, entra: entra, provider: provider, http: http, keyRing: keyRing, sessions: sessions, audit: audit, now: now)
    }

    public func shutdown() async {
        sessions.shutdown()
        try? await http.shutdown()
    }

    /// The in-process session cache (for tests and the admin surface).
    public var sessionCache: SessionCache { sessions.cache }

    // MARK: Hot path

    /// The session ids a request's cookies carry (normally one). Any cookie that does not
    /// open (tampered, truncated, foreign key, garbage) is simply not one.
    func sessionIDs(cookieHeaders: [String]) -> [SessionID] {
        var ids: [SessionID] = []
        forEachSessionID(cookieHeaders) { id in
            ids.append(id)
            return true
        }
        return ids
    }

    /// Visits the session ids the cookies carry until `body` returns false.
    func forEachSessionID(_ cookieHeaders: [String], _ body: (SessionID) -> Bool) {
        var memo = SessionCookieMemo()
        forEachSessionID(cookieHeaders, memo: &memo, body)
    }

    /// ``forEachSessionID(_:_:)`` that first asks the connection's memo: a cookie identical
    /// to the one the memo opened last is not opened again.
    func forEachSessionID(_ cookieHeaders: some Sequence<String>, memo: inout SessionCookieMemo, _ body: (SessionID) -> Bool) {
        let name = cookies.sessionNameBytes
        CookieHeader.scanPairs(in: cookieHeaders) { _, bytes, nameRange, valueRange in
            guard CookieHeader.equals(bytes, nameRange, name) else { return true }
            let sealed = UnsafeBufferPointer(rebasing: bytes[valueRange])
            if let id = memo.id(for: sealed) { return body(id) }
            guard let opened = keyRing.open(bytes: sealed, context: Self.sessionSealContext),
                let id = SessionID(bytes: opened)
            else { return true }
            memo.remember(sealed, opensTo: id)
            return body(id)
        }
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
        let time = now()
        let id = SessionID.random()
        let session = Session(
            id: id, identity: identity, created: time, absoluteExpiry: time.addingTimeInterval(config.session.absoluteTimeout),
            providerSessionID: claims["sid"]?.stringValue ?? parameters["session_state"],
            logoutHint: claims["login_hint"]?.stringValue, refreshToken: tokens.refreshToken)
        do {
            try await sessions.create(session, now: time)
        } catch {
            audit.error("sign-in unavailable", metadata: ["event": "signin.store_unavailable", "reason": "\(error)", "peer": "\(peer)"])
            var page = Self.sessionsUnavailablePage()
            page.headers = clearing
            return .page(page)
        }
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

    func logout(headers: HTTPHeaders, peer: String) async -> LocalAnswer {
        var responseHeaders = HTTPHeaders()
        responseHeaders.add(name: "Set-Cookie", value: cookies.deleteCookie(cookies.sessionName))
        // The session is ended by id whether or not this instance has it cached.
        var session: Session?
        for id in sessionIDs(cookieHeaders: headers["cookie"]) {
            let found: Session?
            if let hit = sessions.cache.lookup(id: id, now: now()) {
                found = hit.session
            } else {
                found = try? await sessions.load(id: id, now: now())
            }
            let everywhere = await sessions.end(id: id)
            if let found {
                session = found
                audit.info(
                    "signed out",
                    metadata: ["event": "signout", "user": "\(found.identity.username)", "everywhere": "\(everywhere)", "peer": "\(peer)"])
            }
        }
        let signedOut = config.publicURL.origin + "/.portcullis/signed-out"
        if let session, let endpoint = try? await provider.metadata().endSessionEndpoint {
            var parameters = [("post_logout_redirect_uri", signedOut), ("client_id", entra.clientId)]
            if let hint = session.logoutHint { parameters.append(("logout_hint", hint)) }
            let separator = endpoint.contains("?") ? "&" : "?"
            return .response(Self.redirect(to: endpoint + separator + FormURLEncoding.encode(parameters), headers: responseHeaders))
        }
        return .response(Self.redirect(to: "/.portcullis/signed-out", headers: responseHeaders))
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
        let ended = await sessions.endAll(providerSessionID: sid)
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

    static func sessionsUnavailablePage() -> GatewayPage {
        GatewayPage(
            status: .serviceUnavailable, title: "Sessions are unavailable",
            message: "Your session cannot be checked right now (the session store is unreachable). Please try again in a minute.",
            link: ("Try again", "/"))
    }

    /// Where an unauthenticated browser is sent: the login endpoint, remembering the page.
    static func loginRedirect(path: Substring, query: Substring?) -> LocalResponse {
        var target = String(path)
        if let query { target += "?" + query }
        return redirect(to: "/.portcullis/login?rd=" + FormURLEncoding.encode(target), headers: [:])
    }
}
