import NIOCore
import NIOHTTP1
import NIOPosix
import PortcullisAuth
import PortcullisCore

/// A response the gateway produces itself, without an upstream.
struct LocalResponse: Sendable {
    var status: HTTPResponseStatus
    var contentType: String
    var body: String
    var headers: HTTPHeaders = [:]
}

/// What the gateway answers for a request it does not proxy.
enum LocalAnswer: Sendable {
    case page(GatewayPage)
    case response(LocalResponse)
    /// Control-plane work (name resolution, sign-in) finishing on the client's loop.
    case deferred(EventLoopFuture<LocalAnswer>)
    /// The answer needs the request body (a form POST), collected up to `limit` bytes.
    case withBody(limit: Int, @Sendable (ByteBuffer) -> LocalAnswer)
}

/// The gateway's own endpoints under the reserved prefix `/.portcullis/`. No route can
/// claim this prefix, so these answer the same whatever the routes say. The sign-in methods
/// answer their own endpoints first; sign-out is shared, since the session gate ends any
/// session and the session's own method says where the browser goes next.
enum GatewayEndpoints {
    static let prefix = "/.portcullis/"

    static func answer(_ request: EndpointRequest, runtime: GatewayRuntime, threadPool: NIOThreadPool) -> LocalAnswer {
        for method in runtime.signInMethods {
            if let answer = method.answer(request, rules: runtime.sessionRules) { return answer }
        }
        let eventLoop = request.eventLoop
        switch (request.name, request.head.method) {
        case ("healthz", _):
            return .response(LocalResponse(status: .ok, contentType: "text/plain; charset=utf-8", body: "ok\n"))
        case ("readyz", _):
            // Ready: upstream hosts resolve, the shared session store answers, and every
            // sign-in method's provider metadata is at hand. healthz stays a liveness check.
            let future = runtime.readiness.check(on: eventLoop, threadPool: threadPool).flatMap { unresolved in
                eventLoop.makeFutureWithTask { () -> [String] in
                    var problems = unresolved.isEmpty ? [] : ["cannot resolve upstream host(s) \(unresolved.joined(separator: ", "))"]
                    // The answer is public: it names what is wrong, the log says why.
                    if let store = await runtime.gate.sessions.readinessProblem() {
                        runtime.gate.sessions.logger.warning("not ready", metadata: ["reason": "\(store)"])
                        problems.append("session store unavailable")
                    }
                    for method in runtime.signInMethods {
                        if let problem = await method.readinessProblem() {
                            runtime.gate.sessions.logger.warning("not ready", metadata: ["reason": "\(problem)"])
                            problems.append("sign-in provider unavailable")
                        }
                    }
                    return problems
                }
            }.map { problems -> LocalAnswer in
                if problems.isEmpty {
                    return .response(LocalResponse(status: .ok, contentType: "text/plain; charset=utf-8", body: "ready\n"))
                }
                return .response(
                    LocalResponse(
                        status: .serviceUnavailable, contentType: "text/plain; charset=utf-8",
                        body: "not ready: \(problems.joined(separator: "; "))\n"))
            }.recover { _ in
                .response(LocalResponse(status: .serviceUnavailable, contentType: "text/plain; charset=utf-8", body: "not ready\n"))
            }
            return .deferred(future)
        case ("logout", let method) where runtime.config.hasSignIn:
            guard method == .GET || method == .POST else { return methodNotAllowed }
            let headers = request.head.headers, peer = request.peer
            return .deferred(eventLoop.makeFutureWithTask { await signOut(headers: headers, peer: peer, runtime: runtime) })
        case ("verify", _) where runtime.config.hasSignIn:
            return ForwardAuth.verify(request, runtime: runtime)
        case ("start", let method) where runtime.config.hasSignIn:
            guard method == .GET || method == .HEAD else { return methodNotAllowed }
            return ForwardAuth.start(request)
        case ("jwks.json", let method) where runtime.assertionSigner != nil:
            // The assertion's public keys (the signing key first, then keys kept for rotation).
            guard method == .GET || method == .HEAD, let signer = runtime.assertionSigner else { return methodNotAllowed }
            return .response(
                LocalResponse(
                    status: .ok, contentType: "application/jwk-set+json", body: signer.keys.jwksJSON,
                    headers: ["Cache-Control": "public, max-age=300"]))
        case ("signed-out", let method) where runtime.config.hasSignIn:
            guard method == .GET || method == .HEAD else { return methodNotAllowed }
            return .page(
                GatewayPage(
                    status: .ok, title: "Signed out", message: "You have signed out.", link: ("Sign in again", "/.portcullis/login")))
        default:
            return .page(.notFound())
        }
    }

    static let methodNotAllowed = LocalAnswer.page(
        GatewayPage(status: .methodNotAllowed, title: "Method not allowed", message: "This address does not accept that method."))

    /// Ends the request's sessions here and everywhere, clears the cookie, and sends the
    /// browser to its sign-in method's own sign-out (Entra's end-session endpoint) or to
    /// the signed-out page.
    static func signOut(headers: HTTPHeaders, peer: String, runtime: GatewayRuntime) async -> LocalAnswer {
        let rules = runtime.sessionRules
        var responseHeaders = HTTPHeaders()
        responseHeaders.add(name: "Set-Cookie", value: rules.cookies.deleteCookie(rules.cookies.sessionName))
        let session = await runtime.gate.endSessions(cookieHeaders: headers["cookie"], rules: rules, peer: peer)
        if let session, let method = runtime.signInMethod(for: session.identity.method),
            let location = await method.signOutRedirect(for: session)
        {
            return .response(SignInResponses.redirect(to: location, headers: responseHeaders))
        }
        return .response(SignInResponses.redirect(to: "/.portcullis/signed-out", headers: responseHeaders))
    }
}
