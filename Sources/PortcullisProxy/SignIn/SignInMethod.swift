import NIOCore
import NIOHTTP1
import PortcullisCore
import PortcullisSessions

/// A way to sign in (Entra now; local break-glass users next) as the gateway's endpoints
/// see it: its own `/.portcullis/…` endpoints, and where its sessions go at sign-out. It
/// creates sessions through the ``SessionGate`` and answers the gate's revalidations
/// (``SessionRevalidator``); the data plane never sees a concrete method.
protocol SignInMethod: Sendable {
    /// The sessions this method creates carry this method.
    var method: Identity.Method { get }
    /// The answer when `request` names one of this method's endpoints; nil otherwise.
    func answer(_ request: EndpointRequest, rules: SessionRules) -> LocalAnswer?
    /// Where a browser goes after its session ended (the provider's own sign-out), or nil
    /// for the gateway's signed-out page.
    func signOutRedirect(for session: Session) async -> String?
    /// Why this method cannot sign anyone in right now (its provider's metadata cannot be
    /// had), or nil when it can; `/.portcullis/readyz` asks.
    func readinessProblem() async -> String?
}

extension SignInMethod {
    func readinessProblem() async -> String? { nil }
}

/// A request to a gateway endpoint, with its name below `/.portcullis/`.
struct EndpointRequest {
    var name: Substring
    var head: HTTPRequestHead
    var target: RequestTarget
    var peer: String
    var eventLoop: EventLoop
    /// The loop's signed assertions (forward-auth answers carry one like proxied requests).
    var assertions: AssertionCache
}

/// Responses every sign-in method and the data plane share.
enum SignInResponses {
    static func redirect(to location: String, headers: HTTPHeaders) -> LocalResponse {
        var headers = headers
        headers.add(name: "Location", value: location)
        let escaped = HTMLText.escaped(location)
        return LocalResponse(status: .found, contentType: "text/html; charset=utf-8", body: "<a href=\"\(escaped)\">Continue</a>\n", headers: headers)
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

    /// A signed-in user reaching a route that needs an authentication context they lack:
    /// browsers go back to Entra's sign-in asking for it (`authContext` on the login
    /// endpoint), API clients get a 401 saying what to do.
    static func stepUp(path: Substring, query: Substring?, authContext: String, redirect: Bool) -> LocalAnswer {
        var target = String(path)
        if let query { target += "?" + query }
        let login = "/.portcullis/login?authContext=" + authContext + "&rd=" + FormURLEncoding.encode(target)
        if redirect { return .response(Self.redirect(to: login, headers: [:])) }
        return unauthorized(
            error: "insufficient_user_authentication", fields: [("authContext", authContext), ("login", login)],
            challenge: "error=\"insufficient_user_authentication\", auth_context=\"\(authContext)\"")
    }

    /// The 401 every API client gets when it must sign in (first, or again): JSON naming the
    /// error and where to sign in, and a `WWW-Authenticate` challenge saying the same.
    static func unauthorized(error: String, fields: [(String, String)], challenge: String, headers: HTTPHeaders = [:]) -> LocalAnswer {
        var headers = headers
        headers.add(name: "WWW-Authenticate", value: "Portcullis realm=\"sign-in\", " + challenge)
        let extra = fields.map { ",\(JSONText.quoted($0.0)):\(JSONText.quoted($0.1))" }.joined()
        return .response(
            LocalResponse(
                status: .unauthorized, contentType: "application/json",
                body: "{\"status\":401,\"error\":\(JSONText.quoted(error))\(extra)}\n", headers: headers))
    }
}
