import Foundation
import HummingbirdBcrypt
import Logging
import NIOCore
import NIOHTTP1
import PortcullisAuth
import PortcullisCore
import PortcullisSessions

/// Break-glass sign-in with local credentials (`localUsers`), for the users on
/// `sso.excludedUsers`, and for every enabled local user while the SSO switch is off (or
/// Entra has failed `sso.autoFallbackAfter` times in a row). For everyone else a local
/// password is inactive: the same generic error, status, page and time as a wrong one.
///
/// Passwords are checked with bcrypt by the ``PasswordChecker`` (one low-priority thread,
/// never an event loop), so a flood of attempts cannot slow proxied traffic; unknown and inactive users are checked against a
/// dummy hash so they take as long. Failed attempts count per account and per client address
/// (``LoginThrottle``); an optional TOTP second step follows the password.
final class LocalSignIn: SignInMethod, SessionRevalidator {
    let config: GatewayConfig
    let users: LocalUserDirectory
    let lockout: LockoutConfig
    let gate: SessionGate
    let state: LocalSignInState
    let passwords: PasswordChecker
    let redirectGuard: RedirectGuard
    let audit: Logger
    let now: @Sendable () -> Date

    var method: Identity.Method { .local }
    var sso: SSOConfig { config.sso }

    /// How long the proof that the password step passed stays good for the TOTP step.
    static let passedLifetime: TimeInterval = 300

    init?(config: GatewayConfig, services: GatewayServices) {
        guard let local = config.localUsers else { return nil }
        self.config = config
        users = local.directory
        lockout = local.lockout
        gate = services.gate
        state = services.localSignIn
        passwords = services.passwords
        audit = services.audit
        now = services.now
        redirectGuard = RedirectGuard(publicURL: config.publicURL, allowedHosts: config.allowedReturnHosts)
    }

    /// Whether Entra has failed often enough in a row that local sign-in is offered to all.
    var fallbackActive: Bool {
        guard sso.enabled, config.entra != nil, let limit = sso.autoFallbackAfter else { return false }
        return state.consecutiveEntraFailures >= limit
    }

    /// Whether anonymous browsers see the gateway's page rather than go straight to Entra.
    var pageFirst: Bool { config.entra == nil || !sso.enabled || sso.loginPage == .emailFirst || fallbackActive }

    // MARK: Endpoints

    func answer(_ request: EndpointRequest, rules: SessionRules) -> LocalAnswer? {
        switch (request.name, request.head.method) {
        case ("callback", _):
            // Entra is not offered (SSO off, or no Entra at all): its callback shows the page.
            guard config.entra == nil || !sso.enabled else { return nil }
            return .response(SignInResponses.redirect(to: "/.portcullis/signin", headers: [:]))
        case ("login", .GET), ("login", .HEAD):
            // The page comes first (SSO off, no Entra, email-first, or the fallback): the
            // login endpoint shows it. A login carrying `login_hint` came from the page (its
            // email-first step or its Microsoft link) and goes on to Entra.
            let parameters = FormURLEncoding.uniqueParameters(request.target.query) ?? [:]
            let toEntra = config.entra != nil && sso.enabled && (parameters["login_hint"] != nil || !pageFirst)
            guard !toEntra else { return nil }
            let target = "/.portcullis/signin" + (parameters["rd"].map { "?rd=" + FormURLEncoding.encode($0) } ?? "")
            return .response(SignInResponses.redirect(to: target, headers: [:]))
        case ("signin", .GET), ("signin", .HEAD):
            let parameters = FormURLEncoding.uniqueParameters(request.target.query) ?? [:]
            let returnTo = checkedReturn(parameters["rd"], peer: request.peer)
            let step: SignInPage.Step = sso.enabled && sso.loginPage == .emailFirst && !fallbackActive ? .identify : .password
            return page(step, returnTo: returnTo, headers: request.head.headers, rules: rules)
        case ("signin", .POST):
            let head = request.head, peer = request.peer, eventLoop = request.eventLoop
            let client = config.trustedProxies.clientAddress(peer: peer, forwardedFor: head.headers["x-forwarded-for"])
            return .withBody(limit: 16 * 1024) { body in
                let form = FormURLEncoding.uniqueParameters(Substring(String(buffer: body))) ?? [:]
                return .deferred(eventLoop.makeFutureWithTask { await self.submit(form, headers: head.headers, client: client, rules: rules) })
            }
        case ("signin", _):
            return GatewayEndpoints.methodNotAllowed
        default:
            return nil
        }
    }

    func signOutRedirect(for session: Session) async -> String? { nil }

    private func checkedReturn(_ requested: String?, peer: String) -> String {
        guard let requested else { return "/" }
        switch redirectGuard.check(requested) {
        case .success(let value): return value
        case .failure(let rejection):
            audit.warning("return URL refused", metadata: ["event": "signin.redirect_refused", "reason": "\(rejection.reason)", "peer": "\(peer)"])
            return "/"
        }
    }

    // MARK: The form

    /// The page for `step`, with a CSRF token bound to the browser (a new browser secret
    /// cookie when it has none).
    func page(
        _ step: SignInPage.Step, returnTo: String, headers: HTTPHeaders, rules: SessionRules, username: String = "", error: String? = nil,
        passed: String? = nil, status: HTTPResponseStatus = .ok
    ) -> LocalAnswer {
        var responseHeaders = HTTPHeaders()
        let cookieName = csrfCookieName(rules)
        var secret = CookieHeader.pairs(headers["cookie"]).first { $0.name == cookieName }.map { String($0.value) } ?? ""
        if secret.isEmpty || secret.utf8.count > 64 {
            secret = CSRFToken.newBrowserSecret()
            responseHeaders.add(name: "Set-Cookie", value: rules.cookies.setCookie(cookieName, value: secret, maxAge: nil, sameSite: "Strict"))
        }
        var notice: String?
        if !sso.enabled {
            notice = "Single sign-on is switched off by your administrator: sign in with your local account."
        } else if fallbackActive {
            notice = "Microsoft sign-in is not answering: local sign-in is open to accounts that have one."
        }
        let html = SignInPage(
            step: step, branding: sso.branding, csrf: CSRFToken.token(browserSecret: secret, purpose: "signin", keyRing: rules.keyRing),
            returnTo: returnTo, username: username, error: error,
            // Step one of email-first already sends SSO users to Entra: no second way there.
            entraURL: config.entra != nil && sso.enabled && step != .identify
                ? "/.portcullis/login?rd=" + FormURLEncoding.encode(returnTo) + "&login_hint=" : nil,
            notice: notice, passed: passed
        ).render()
        // No `form-action`: browsers apply it to the redirects after a post too, and the
        // email-first step redirects to Entra's origin. Forged posts are refused by the token.
        responseHeaders.add(name: "Content-Security-Policy", value: "default-src 'none'; style-src 'unsafe-inline'; img-src https: 'self'; frame-ancestors 'none'")
        responseHeaders.add(name: "X-Frame-Options", value: "DENY")
        return .response(LocalResponse(status: status, contentType: "text/html; charset=utf-8", body: html, headers: responseHeaders))
    }

    private func csrfCookieName(_ rules: SessionRules) -> String { rules.cookies.csrfName }

    /// The one answer every failed attempt gets, whatever failed.
    static let genericError = "The sign-in details are not correct, or this account cannot sign in here."

    /// A posted form: the CSRF check, then the step it answers.
    func submit(_ form: [String: String], headers: HTTPHeaders, client: String, rules: SessionRules) async -> LocalAnswer {
        let secret = CookieHeader.pairs(headers["cookie"]).first { $0.name == csrfCookieName(rules) }.map { String($0.value) } ?? ""
        guard let token = form["csrf"], CSRFToken.verify(token, browserSecret: secret, purpose: "signin", keyRing: rules.keyRing) else {
            audit.warning("sign-in form refused", metadata: ["event": "local.signin.csrf_refused", "peer": "\(client)"])
            return .page(
                GatewayPage(
                    status: .forbidden, title: "Form expired", message: "This sign-in form has expired or did not come from this site. Please sign in again.",
                    link: ("Sign in", "/.portcullis/signin")))
        }
        let returnTo = checkedReturn(form["rd"], peer: client)
        let input = form["username"] ?? ""
        switch form["step"] {
        case "identify":
            return identify(input, returnTo: returnTo, headers: headers, rules: rules)
        case "totp":
            return await secondFactor(form, input: input, returnTo: returnTo, headers: headers, client: client, rules: rules)
        default:
            return await password(input, form["password"] ?? "", returnTo: returnTo, headers: headers, client: client, rules: rules)
        }
    }

    /// Email-first step one: excluded users get the password step; everyone else goes to
    /// Entra with `login_hint` (and `domain_hint` when configured).
    private func identify(_ input: String, returnTo: String, headers: HTTPHeaders, rules: SessionRules) -> LocalAnswer {
        let name = AccountName.canonical(input)
        guard !name.isEmpty else {
            return page(.identify, returnTo: returnTo, headers: headers, rules: rules, error: "Enter your email or username.", status: .badRequest)
        }
        if config.entra == nil
            || LocalPasswordPolicy.verdict(for: users.user(matching: input), sso: sso, fallbackActive: fallbackActive) == .allowed
        {
            return page(.password, returnTo: returnTo, headers: headers, rules: rules, username: input)
        }
        let target = "/.portcullis/login?" + FormURLEncoding.encode([("rd", returnTo), ("login_hint", input)])
        return .response(SignInResponses.redirect(to: target, headers: [:]))
    }

    /// The password step: throttle, bcrypt off the event loop (always, so every failure takes
    /// the same time), then who may use a local password at all.
    private func password(
        _ input: String, _ password: String, returnTo: String, headers: HTTPHeaders, client: String, rules: SessionRules
    ) async -> LocalAnswer {
        let name = AccountName.canonical(input)
        let keys = ["user:" + name, "addr:" + client]
        let user = users.user(matching: input)
        let throttled = throttleRefusal(keys)
        let hash = user?.passwordHash ?? Self.dummyHash
        let checked = await passwords.verify(password, hash: hash)
        let matches = checked ?? false
        let verdict = LocalPasswordPolicy.verdict(for: user, sso: sso, fallbackActive: fallbackActive)
        let reason: String?
        if let throttled {
            reason = throttled
        } else if checked == nil {
            reason = "too_many_attempts"
        } else if !matches {
            reason = user == nil ? "unknown_user" : "bad_password"
        } else if case .refused(let refusal) = verdict {
            reason = refusal.reasonClass
        } else {
            reason = nil
        }
        guard reason == nil, let user else {
            return failed(step: .password, keys: keys, reason: reason ?? "unknown_user", account: name, client: client, returnTo: returnTo, headers: headers, rules: rules)
        }
        if user.totpSecret != nil {
            let passed = rules.keyRing.seal(
                Array("\(user.username)\n\(Int64(now().timeIntervalSince1970))".utf8), context: "portcullis local password passed")
            return page(.totp, returnTo: returnTo, headers: headers, rules: rules, username: user.username, passed: passed)
        }
        return await signedIn(user, keys: keys, client: client, returnTo: returnTo, rules: rules)
    }

    /// The TOTP step: the sealed proof of the password step, then a code used once only.
    private func secondFactor(
        _ form: [String: String], input: String, returnTo: String, headers: HTTPHeaders, client: String, rules: SessionRules
    ) async -> LocalAnswer {
        let name = AccountName.canonical(input)
        let keys = ["user:" + name, "addr:" + client]
        guard let passed = form["passed"], let opened = rules.keyRing.open(passed, context: "portcullis local password passed") else {
            return failed(step: .password, keys: keys, reason: "no_password_step", account: name, client: client, returnTo: returnTo, headers: headers, rules: rules)
        }
        let parts = String(decoding: opened, as: UTF8.self).split(separator: "\n")
        guard parts.count == 2, let at = Int64(parts[1]), Double(at) + Self.passedLifetime > now().timeIntervalSince1970,
            let user = users.user(matching: String(parts[0])), AccountName.canonical(user.username) == name || AccountName.canonical(user.email ?? "") == name,
            let secretText = user.totpSecret, let secret = Base32.decode(secretText)
        else {
            return failed(step: .password, keys: keys, reason: "password_step_expired", account: name, client: client, returnTo: returnTo, headers: headers, rules: rules)
        }
        if let throttled = throttleRefusal(keys) {
            return failed(step: .totp, keys: keys, reason: throttled, account: name, client: client, returnTo: returnTo, headers: headers, rules: rules, passed: passed, username: user.username)
        }
        let account = AccountName.canonical(user.username)
        guard let step = TOTP.verify(form["code"] ?? "", secret: secret, at: now(), window: 1, notAfterOrAt: state.lastTOTPStep(account)),
            state.useTOTPStep(step, for: account)
        else {
            return failed(step: .totp, keys: keys, reason: "bad_totp", account: name, client: client, returnTo: returnTo, headers: headers, rules: rules, passed: passed, username: user.username)
        }
        guard case .allowed = LocalPasswordPolicy.verdict(for: user, sso: sso, fallbackActive: fallbackActive) else {
            return failed(step: .password, keys: keys, reason: "inactive_because_sso", account: name, client: client, returnTo: returnTo, headers: headers, rules: rules)
        }
        return await signedIn(user, keys: keys, client: client, returnTo: returnTo, rules: rules)
    }

    /// Why the throttle refuses an attempt now, or nil.
    private func throttleRefusal(_ keys: [String]) -> String? {
        let time = now()
        switch state.withThrottle(lockout, { $0.check(keys: keys, now: time) }) {
        case .allowed: return nil
        case .wait: return "throttled"
        case .locked: return "locked"
        }
    }

    /// A failed attempt: counted, audited with its reason class, answered generically.
    private func failed(
        step: SignInPage.Step, keys: [String], reason: String, account: String, client: String, returnTo: String, headers: HTTPHeaders,
        rules: SessionRules, passed: String? = nil, username: String? = nil
    ) -> LocalAnswer {
        let time = now()
        let locked = reason == "locked" || reason == "throttled" ? [] : state.withThrottle(lockout) { $0.recordFailure(keys: keys, now: time) }
        audit.warning(
            "local sign-in refused", metadata: ["event": "local.signin.failure", "reason": "\(reason)", "user": "\(account)", "peer": "\(client)"])
        for key in locked {
            audit.warning("local sign-in locked", metadata: ["event": "local.lockout", "key": "\(key)", "peer": "\(client)"])
        }
        return page(
            step, returnTo: returnTo, headers: headers, rules: rules, username: username ?? account, error: Self.genericError, passed: passed,
            status: .unauthorized)
    }

    private func signedIn(_ user: LocalUser, keys: [String], client: String, returnTo: String, rules: SessionRules) async -> LocalAnswer {
        state.withThrottle(lockout) { $0.recordSuccess(keys: keys) }
        let identity = Self.identity(of: user)
        let cookie: String
        do {
            cookie = try await gate.create(identity, rules: rules)
        } catch {
            audit.error("sign-in unavailable", metadata: ["event": "local.signin.store_unavailable", "reason": "\(error)", "peer": "\(client)"])
            return .page(SignInResponses.sessionsUnavailablePage())
        }
        audit.notice(
            "signed in locally",
            metadata: [
                "event": "local.signin.success", "user": "\(user.username)", "sso": "\(sso.enabled ? "on" : "off")",
                "fallback": "\(fallbackActive)", "totp": "\(user.totpSecret != nil)", "peer": "\(client)",
            ])
        var headers = HTTPHeaders()
        headers.add(name: "Set-Cookie", value: cookie)
        return .response(SignInResponses.redirect(to: returnTo, headers: headers))
    }

    static func identity(of user: LocalUser) -> Identity {
        Identity(
            username: user.username, email: user.email, displayName: user.name, objectId: nil, tenantId: nil, roles: user.roles,
            groups: user.groups, method: .local)
    }

    // MARK: bcrypt

    /// A hash of nothing anyone knows, at the users file's cost, so unknown users cost a
    /// full bcrypt check too.
    static let dummyHash = Bcrypt.hash(RandomToken.string(), cost: 12)

    // MARK: Revalidation

    /// Local sessions are checked again at their first request after any reload (the users
    /// file or the SSO switch may have changed), as well as every `revalidateEvery`.
    func isDue(_ session: Session, rules: SessionRules, now time: Date) -> Bool {
        session.validated < rules.created || time >= session.validated.addingTimeInterval(rules.revalidateEvery)
    }

    func revalidatesEarly(_ session: Session) -> Bool { false }

    /// The user must still exist, be enabled, and be allowed a local password: a session
    /// granted while SSO was off ends when SSO comes back on.
    func revalidate(_ session: Session) async -> Revalidation {
        let user = users.user(matching: session.identity.username)
        switch LocalPasswordPolicy.verdict(for: user, sso: sso, fallbackActive: fallbackActive) {
        case .allowed:
            return .confirmed(Self.identity(of: user!), refreshToken: nil)
        case .refused(let refusal):
            return .refused(event: "session.local_ended", reason: "\(refusal.reasonClass): \(refusal.reason)")
        }
    }
}
