import Logging
import NIOHTTP1
import PortcullisCore

/// What the gateway answers, and audits, when ``Admission`` refuses a signed-in user or asks
/// for a step-up: one place for proxy mode and forward-auth, so both say and log the same.
enum AccessAnswers {
    /// A 403 naming the route (never the rule: that is for the audit log), as a page for
    /// browsers and JSON for API clients, and the `access.denied` audit line naming the rule.
    static func denied(
        _ identity: Identity, route: String, rule: String, reason: String, peer: String, browser: Bool, audit: Logger,
        mode: String = "proxy"
    ) -> LocalAnswer {
        audit.warning(
            "access denied",
            metadata: [
                "event": "access.denied", "user": "\(identity.username)", "route": "\(route)", "rule": "\(rule)", "reason": "\(reason)",
                "peer": "\(peer)", "mode": "\(mode)",
            ])
        guard browser else {
            return .response(
                LocalResponse(
                    status: .forbidden, contentType: "application/json",
                    body: "{\"status\":403,\"error\":\"forbidden\",\"route\":\(JSONText.quoted(route)),\"message\":\"Your account does not have access to this application.\"}\n"))
        }
        return .page(
            GatewayPage(
                status: .forbidden, title: "Access denied",
                message: "Your account (\(identity.username)) does not have access to \(route). Ask your administrator for access.",
                link: ("Sign out", "/.portcullis/logout")))
    }

    /// A 503 for a route whose upstream is sent the signed assertion when none could be made
    /// (signing failed): failing closed, since such an upstream may trust the assertion alone,
    /// and forwarding without it would hand the decision to whatever the upstream does then.
    /// Audited as `access.assertion_unavailable`.
    static func assertionUnavailable(_ identity: Identity, route: String, peer: String, audit: Logger, mode: String = "proxy") -> LocalAnswer {
        audit.error(
            "no signed assertion for a route that sends one: request refused",
            metadata: ["event": "access.assertion_unavailable", "user": "\(identity.username)", "route": "\(route)", "peer": "\(peer)", "mode": "\(mode)"])
        return .page(
            GatewayPage(
                status: .serviceUnavailable, title: "Application unavailable",
                message: "The gateway cannot vouch for your sign-in to this application right now. Please try again shortly."))
    }

    /// The `access.step_up` audit line: a signed-in user sent back to sign in for a route's
    /// authentication context.
    static func auditStepUp(_ identity: Identity, route: String, authContext: String, peer: String, audit: Logger, mode: String = "proxy") {
        audit.info(
            "step-up required",
            metadata: [
                "event": "access.step_up", "user": "\(identity.username)", "route": "\(route)", "authContext": "\(authContext)",
                "peer": "\(peer)", "mode": "\(mode)",
            ])
    }
}

extension BrowserNavigation {
    /// ``isNavigation(method:accept:secFetchMode:requestedWith:)`` from a request's headers.
    static func isNavigation(method: String, headers: HTTPHeaders) -> Bool {
        isNavigation(
            method: method, accept: headers["accept"], secFetchMode: headers.first(name: "sec-fetch-mode"),
            requestedWith: headers.first(name: "x-requested-with"))
    }
}
