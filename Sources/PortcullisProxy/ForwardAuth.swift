import Foundation
import NIOCore
import NIOHTTP1
import PortcullisCore

/// Forward-auth mode: `/.portcullis/verify` for a proxy that keeps proxying itself (nginx
/// `auth_request`, ingress-nginx `auth-url`, Traefik `forwardAuth`, Caddy `forward_auth`), and
/// `/.portcullis/start` where such a proxy sends a browser to sign in.
///
/// Verify judges the original request exactly as proxy mode would (the same canonical path,
/// route match, session gate and ``Admission``) and answers the proxy: 2xx with the route's
/// identity headers (and assertion) as response headers to copy upstream, 401 naming the
/// sign-in URL (or, with `?redirect=true`, a 302 there for a browser, for proxies that pass the
/// answer on unchanged), 403, or 503.
enum ForwardAuth {
    static func verify(_ request: EndpointRequest, runtime: GatewayRuntime) -> LocalAnswer {
        let head = request.head
        let trusted = runtime.config.trustedProxies.contains(request.peer)
        let original: ForwardedRequest
        switch ForwardedRequest.read(
            method: head.method.rawValue, host: head.headers.first(name: "host"), uri: head.uri,
            values: { head.headers[$0] }, trusted: trusted)
        {
        case .success(let value): original = value
        case .failure(let rejection): return .page(.badRequest(rejection.reason))
        }
        let target: RequestTarget
        switch RequestTarget.parse(original.uri) {
        case .success(let parsed): target = parsed
        case .failure(let rejection): return .page(.badRequest(rejection.reason))
        }
        guard !ClientConnectionHandler.isGatewayPath(target.path), let index = runtime.routeTable.match(host: original.host, path: target.path)
        else {
            // Nothing protects it here, so nothing may pass: fail closed.
            return json(.forbidden, #"{"status":403,"error":"no_route","message":"No route of the gateway covers this address."}"#)
        }
        let route = runtime.routes[index]
        if route.config.isPublic { return .response(LocalResponse(status: .ok, contentType: "text/plain; charset=utf-8", body: "")) }
        let wantsRedirect = FormURLEncoding.uniqueParameters(request.target.query)?["redirect"] == "true"
        let decide = { (session: Admission.SessionState) -> LocalAnswer in
            decision(session, original: original, target: target, route: route, request: request, runtime: runtime, redirect: wantsRedirect)
        }
        var memo = SessionCookieMemo()
        switch runtime.gate.check(cookieHeaders: CookieHeader.Fields(headers: head.headers), memo: &memo, rules: runtime.sessionRules, on: request.eventLoop) {
        case .live(let session): return decide(.live(session.identity))
        case .anonymous: return decide(.anonymous)
        case .pending(let resolution):
            return .deferred(
                resolution.map { resolved in
                    switch resolved {
                    case .live(let session): decide(.live(session.identity))
                    case .anonymous: decide(.anonymous)
                    case .unavailable: decide(.unavailable)
                    }
                })
        }
    }

    private static func decision(
        _ session: Admission.SessionState, original: ForwardedRequest, target: RequestTarget, route: RouteTarget, request: EndpointRequest,
        runtime: GatewayRuntime, redirect: Bool
    ) -> LocalAnswer {
        let head = request.head
        // The proxy passes the original request's headers on, so they describe the browser.
        let navigation = BrowserNavigation.isNavigation(method: original.method, headers: head.headers)
        let admission = Admission.decide(
            route: route.config, session: session, method: original.method,
            clientAddress: { runtime.config.trustedProxies.clientIPAddress(peer: request.peer, forwardedFor: head.headers["x-forwarded-for"]) },
            isBrowserNavigation: navigation)
        switch admission {
        case .proxy(let identity):
            var headers = HTTPHeaders()
            if let identity {
                let rendered = route.headerPlan.render(identity)
                if let refusal = rendered.refusal {
                    return AccessAnswers.denied(
                        identity, route: route.config.name, rule: "headers.username", reason: "route \(route.config.name): \(refusal)",
                        peer: request.peer, browser: navigation, audit: runtime.gate.audit, mode: "forward-auth")
                }
                for (name, value) in rendered.lines { headers.add(name: name, value: value) }
                if let name = route.headerPlan.assertionName {
                    guard
                        let token = request.assertions.assertion(
                            for: identity, route: route, runtime: runtime, now: runtime.gate.now(), logger: runtime.gate.sessions.logger)
                    else {
                        return AccessAnswers.assertionUnavailable(
                            identity, route: route.config.name, peer: request.peer, audit: runtime.gate.audit, mode: "forward-auth")
                    }
                    headers.add(name: name, value: token)
                }
            }
            return .response(LocalResponse(status: .ok, contentType: "text/plain; charset=utf-8", body: "", headers: headers))
        case .signIn, .unauthenticated:
            return signIn(original: original, target: target, runtime: runtime, authContext: nil, redirect: redirect && navigation)
        case .stepUp(let identity, let authContext, _):
            AccessAnswers.auditStepUp(
                identity, route: route.config.name, authContext: authContext, peer: request.peer, audit: runtime.gate.audit, mode: "forward-auth")
            return signIn(original: original, target: target, runtime: runtime, authContext: authContext, redirect: redirect && navigation)
        case .forbidden(let identity, let rule, let reason):
            return AccessAnswers.denied(
                identity, route: route.config.name, rule: rule, reason: reason, peer: request.peer, browser: navigation, audit: runtime.gate.audit,
                mode: "forward-auth")
        case .unavailable:
            return .page(SignInResponses.sessionsUnavailablePage())
        }
    }

    /// Where the browser signs in: relative when the original host is the gateway's public one
    /// (the proxy forwards `/.portcullis/` on that host), otherwise the gateway's public URL
    /// with the original URL to return to (which `allowedReturnHosts` must admit).
    static func signInURL(original: ForwardedRequest, target: RequestTarget, runtime: GatewayRuntime, authContext: String?) -> String {
        var path = String(target.path)
        if let query = target.query { path += "?" + query }
        let publicURL = runtime.config.publicURL
        let sameHost = original.host.map { $0.lowercased() == publicURL.authority.lowercased() } ?? true
        let returnTo = sameHost ? path : "\(original.scheme ?? publicURL.scheme)://\(original.host ?? publicURL.authority)\(path)"
        let start = "/.portcullis/start?" + (authContext.map { "authContext=\($0)&" } ?? "") + "rd=" + FormURLEncoding.encode(returnTo)
        return sameHost ? start : publicURL.origin + start
    }

    private static func signIn(original: ForwardedRequest, target: RequestTarget, runtime: GatewayRuntime, authContext: String?, redirect: Bool) -> LocalAnswer {
        let url = signInURL(original: original, target: target, runtime: runtime, authContext: authContext)
        if redirect { return .response(SignInResponses.redirect(to: url, headers: [:])) }
        return SignInResponses.unauthorized(
            error: authContext == nil ? "unauthenticated" : "insufficient_user_authentication", fields: [("login", url)],
            challenge: "login=\(JSONText.quoted(url))", headers: ["X-Portcullis-Sign-In": url])
    }

    private static func json(_ status: HTTPResponseStatus, _ body: String) -> LocalAnswer {
        .response(LocalResponse(status: status, contentType: "application/json", body: body + "\n"))
    }

    /// `/.portcullis/start?rd=…[&authContext=…]`: the sign-in entry a proxy sends browsers to;
    /// the login endpoint checks the return URL like any other.
    static func start(_ request: EndpointRequest) -> LocalAnswer {
        let query = request.target.query.map { "?" + $0 } ?? ""
        return .response(SignInResponses.redirect(to: "/.portcullis/login" + query, headers: [:]))
    }
}
