/// What the gateway does with a request for a route, decided without sockets: proxy mode,
/// forward-auth and an HTTP/2 stream all ask the same question and perform the answer.
///
/// Gateway endpoints (`/.portcullis/…`) and unknown routes are answered before a route is
/// matched; this decides everything after: who the request is, and whether that suffices.
public enum Admission: Equatable, Sendable {
    /// Send the request upstream, with this identity (nil on a public route).
    case proxy(Identity?)
    /// A browser navigating to a protected route without a session: to sign-in and back.
    case signIn
    /// Anyone else without a session (scripts, XHR, non-GET): a 401 they can act on.
    case unauthenticated
    /// Signed in and allowed, but the route needs an authentication context (`acrs`) the
    /// session's sign-in did not satisfy: back to Entra asking for it when `redirect` (a
    /// browser navigating), otherwise a 401 saying so. The session stays for other routes.
    case stepUp(Identity, authContext: String, redirect: Bool)
    /// Signed in but refused by the route's policy: `rule` names the rule that decided and
    /// `reason` is the audit sentence; neither is shown to the user.
    case forbidden(Identity, rule: String, reason: String)
    /// The session could not be checked (the shared store is down): 503, fail closed.
    case unavailable

    /// What the session gate found for the request's cookie.
    public enum SessionState: Sendable, Equatable {
        case live(Identity)
        case anonymous
        case unavailable
    }

    /// The decision for `route` on a `method` request. `isBrowserNavigation` is asked only
    /// when a redirect is on the table, and `clientAddress` only by a rule with
    /// `clientAddresses`, so the common cases read no further headers.
    public static func decide(
        route: RouteConfig, session: SessionState, method: String, clientAddress: () -> IPAddress? = { nil },
        isBrowserNavigation: @autoclosure () -> Bool
    ) -> Admission {
        if route.isPublic { return .proxy(nil) }
        switch session {
        case .live(let identity):
            if !route.policy.admitsEveryone,
                case .denied(let rule, let reason) = route.policy.decide(identity, method: method, clientAddress: clientAddress)
            {
                return .forbidden(identity, rule: rule, reason: "route \(route.name): \(reason)")
            }
            if let context = route.authContext, !identity.authContexts.contains(context) {
                // Only Entra can satisfy an authentication context: a local (break-glass)
                // session is refused rather than sent to a sign-in it could not complete.
                guard identity.method == .sso else {
                    return .forbidden(identity, rule: "authContext", reason: "route \(route.name): needs authentication context \(context), which a local session cannot have")
                }
                return .stepUp(identity, authContext: context, redirect: isBrowserNavigation())
            }
            return .proxy(identity)
        case .anonymous:
            return isBrowserNavigation() ? .signIn : .unauthenticated
        case .unavailable:
            return .unavailable
        }
    }
}

/// Whether a request is a browser navigating (where a redirect to sign-in helps) rather
/// than a script or API client (where it would only hand back an HTML page to parse).
public enum BrowserNavigation {
    /// - Parameters: the request's method and its `Accept`, `Sec-Fetch-Mode` and
    ///   `X-Requested-With` values (nil when absent).
    public static func isNavigation(
        method: String, accept: some Sequence<String>, secFetchMode: String?, requestedWith: String?
    ) -> Bool {
        guard method == "GET" || method == "HEAD" else { return false }
        if requestedWith?.lowercased() == "xmlhttprequest" { return false }
        if let secFetchMode, secFetchMode != "navigate" { return false }
        return accept.contains { $0.contains("text/html") }
    }
}
