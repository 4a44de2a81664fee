import Foundation
import Testing

@testable import PortcullisCore

/// Request admission as a table: (route, session, navigation) → what the gateway does.
/// Proxy mode, forward-auth and HTTP/2 streams all perform these decisions.
@Suite("Request admission")
struct AdmissionTests {
    static func route(_ fields: String) -> RouteConfig {
        let json = #"{ "routes": [{ "name": "r", "upstream": "http://127.0.0.1:1"\#(fields) }], "entra": { "tenant": "contoso.example", "clientId": "c", "clientSecretEnv": "S" } }"#
        return try! GatewayConfig.load(Data(json.utf8), environment: { _ in "x" }).routes[0]
    }

    static let open = route(#", "public": true"#)
    static let protected = route("")
    static let admins = route(#", "allow": { "roles": ["Admin"] }"#)
    static let stepUp = route(#", "authContext": "c1""#)

    static func identity(_ username: String, roles: [String] = [], method: Identity.Method = .sso, contexts: [String] = []) -> Identity {
        Identity(username: username, roles: roles, method: method, authContexts: contexts)
    }

    static let alice = identity("alice", roles: ["Admin"])
    static let bob = identity("bob")
    static let carol = identity("carol", contexts: ["c1"])
    static let local = identity("dave", method: .local)

    enum Expected: Equatable {
        case proxy(String?), signIn, unauthenticated, forbidden(String), unavailable, stepUp(String, redirect: Bool)
    }

    static func expected(_ admission: Admission) -> Expected {
        switch admission {
        case .proxy(let identity): .proxy(identity?.username)
        case .signIn: .signIn
        case .unauthenticated: .unauthenticated
        case .forbidden(let identity, _, _): .forbidden(identity.username)
        case .stepUp(let identity, let context, let redirect): .stepUp(identity.username + " " + context, redirect: redirect)
        case .unavailable: .unavailable
        }
    }

    @Test(
        "each route kind, session state and client kind",
        arguments: [
            // A public route admits anyone, and sends no identity even with a session.
            (open, Admission.SessionState.anonymous, false, Expected.proxy(nil)),
            (open, .anonymous, true, .proxy(nil)),
            (open, .live(alice), true, .proxy(nil)),
            (open, .unavailable, true, .proxy(nil)),
            // A protected route: a session is needed; browsers are sent to sign in, others get 401.
            (protected, .live(bob), false, .proxy("bob")),
            (protected, .anonymous, true, .signIn),
            (protected, .anonymous, false, .unauthenticated),
            (protected, .unavailable, true, .unavailable),
            (protected, .unavailable, false, .unavailable),
            // A route with a policy: only the listed role passes; the rest are signed in but refused.
            (admins, .live(alice), false, .proxy("alice")),
            (admins, .live(bob), true, .forbidden("bob")),
            (admins, .anonymous, true, .signIn),
            (admins, .anonymous, false, .unauthenticated),
            (admins, .unavailable, false, .unavailable),
            // An authentication context: a session without it steps up (browsers by redirect),
            // one with it passes, and a local session, which cannot get it, is refused.
            (stepUp, .live(bob), true, .stepUp("bob c1", redirect: true)),
            (stepUp, .live(bob), false, .stepUp("bob c1", redirect: false)),
            (stepUp, .live(carol), true, .proxy("carol")),
            (stepUp, .live(local), true, .forbidden("dave")),
            (stepUp, .anonymous, true, .signIn),
        ] as [(RouteConfig, Admission.SessionState, Bool, Expected)])
    func table(route: RouteConfig, session: Admission.SessionState, navigation: Bool, expected: Expected) {
        #expect(Self.expected(Admission.decide(route: route, session: session, method: "GET", isBrowserNavigation: navigation)) == expected)
    }

    @Test("a refusal names the route and the rule for the audit log")
    func forbiddenReason() {
        guard case .forbidden(_, let rule, let reason) = Admission.decide(route: Self.admins, session: .live(Self.bob), method: "GET", isBrowserNavigation: true)
        else {
            Issue.record("not forbidden")
            return
        }
        #expect(rule == "allow")
        #expect(reason.contains("route r"))
        #expect(reason.contains("no allow rule matched"))
    }

    @Test("deny is checked before step-up: a denied user is not sent to sign in again")
    func denyBeforeStepUp() {
        let route = Self.route(#", "authContext": "c1", "deny": { "name": "no-bob", "users": ["bob"] }"#)
        guard case .forbidden(_, let rule, _) = Admission.decide(route: route, session: .live(Self.bob), method: "GET", isBrowserNavigation: true) else {
            Issue.record("not forbidden")
            return
        }
        #expect(rule == "no-bob")
    }

    @Test("navigation is asked only when there is no session on a protected route")
    func navigationAskedLazily() {
        var asked = 0
        func navigation() -> Bool {
            asked += 1
            return true
        }
        _ = Admission.decide(route: Self.open, session: .anonymous, method: "GET", isBrowserNavigation: navigation())
        _ = Admission.decide(route: Self.protected, session: .live(Self.bob), method: "GET", isBrowserNavigation: navigation())
        #expect(asked == 0)
        _ = Admission.decide(route: Self.protected, session: .anonymous, method: "GET", isBrowserNavigation: navigation())
        #expect(asked == 1)
    }

    @Test(
        "browser navigation: GET or HEAD asking for HTML, not XHR, not a non-navigating fetch",
        arguments: [
            ("GET", ["text/html,application/xhtml+xml"], nil, nil, true),
            ("HEAD", ["text/html"], "navigate", nil, true),
            ("GET", ["application/json"], nil, nil, false),
            ("GET", [], nil, nil, false),
            ("POST", ["text/html"], nil, nil, false),
            ("GET", ["text/html"], "cors", nil, false),
            ("GET", ["text/html"], nil, "XMLHttpRequest", false),
            ("GET", ["application/json", "text/html"], nil, nil, true),
        ] as [(String, [String], String?, String?, Bool)])
    func navigation(method: String, accept: [String], mode: String?, requestedWith: String?, expected: Bool) {
        #expect(BrowserNavigation.isNavigation(method: method, accept: accept, secFetchMode: mode, requestedWith: requestedWith) == expected)
    }
}
