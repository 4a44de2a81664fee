import Foundation
import JWTKit
import NIOHTTP1
import PortcullisAuth
import PortcullisTestSupport
import Testing

/// The two access models, route policy and step-up, end to end: what the echo upstream is
/// told on each route, what is refused, and how a route's authentication context is earned.
@Suite("Authorization and identity headers (live, dev IdP)")
struct AuthorizationTests {
    /// An *authentication only* app (the username as its host system wants it, nothing else)
    /// and an *authentication and permissions* app (roles mapped to its own permission names,
    /// read-only for readers, no deletes), plus a step-up admin page.
    static let routes = #"""
        { "name": "staff", "pathPrefix": "/staff", "upstream": "http://127.0.0.1:ECHO",
          "headers": { "send": ["user"], "names": { "user": "REMOTE-USER" }, "username": { "claim": "email", "transforms": ["stripDomain", "uppercase"] } } },
        { "name": "keyfax", "pathPrefix": "/keyfax", "upstream": "http://127.0.0.1:ECHO",
          "allow": [{ "name": "authors", "roles": ["Repairs.Write"] }, { "name": "readers", "roles": ["Repairs.Read"], "methods": ["GET", "HEAD"] }],
          "deny": { "name": "no-deletes", "methods": ["DELETE"] },
          "permissions": { "Repairs.Write": ["ScriptEdit", "Reports"], "Repairs.Admin": ["*"] },
          "headers": { "send": ["user", "permissions", "authMethod"], "listFormat": "repeat", "static": { "X-Keyfax-Site": "north" } } },
        { "name": "admin", "pathPrefix": "/admin", "upstream": "http://127.0.0.1:ECHO", "authContext": "c1" },
        """#

    /// Every header the gateway could have written as identity, by any of our names.
    static let identityNames: Set<String> = [
        "remote-user", "x-forwarded-user", "x-forwarded-email", "x-forwarded-name", "x-forwarded-roles", "x-forwarded-groups",
        "x-forwarded-permissions", "x-auth-method", "x-portcullis-assertion", "x-keyfax-site",
    ]

    /// The identity-like headers the upstream received, with CGI-folded names, in order.
    static func identityHeaders(_ response: TestResponse) throws -> [String] {
        try response.echoedHeaders().compactMap { name, value in
            let folded = String(name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
            return identityNames.contains(folded) ? "\(name): \(value)" : nil
        }
    }

    static let forged: [(String, String)] = [
        ("X.Forwarded.User", "mallory"), ("REMOTE_USER", "mallory"), ("Remote.User", "mallory"), ("X-Keyfax-Site", "evil"),
        ("x_forwarded_permissions", "*"),
    ]

    @Test("each route's upstream sees exactly its configured headers, and no client copy of any route's names")
    func headersPerRoute() async throws {
        try await SignInHarness.with(routes: Self.routes) { harness in
            let cookies = try await harness.signIn("alice").cookies
            let staff = try await harness.get("/staff/home", cookies: cookies, headers: Self.forged)
            #expect(staff.status == 200)
            #expect(try Self.identityHeaders(staff) == ["REMOTE-USER: ALICE"])

            let keyfax = try await harness.get("/keyfax/scripts", cookies: cookies, headers: Self.forged)
            #expect(keyfax.status == 200)
            #expect(
                try Self.identityHeaders(keyfax) == [
                    "X-Forwarded-User: alice@contoso.example", "X-Forwarded-Permissions: ScriptEdit", "X-Forwarded-Permissions: Reports",
                    "X-Auth-Method: sso", "X-Keyfax-Site: north",
                ])

            // The catch-all app route keeps the gateway-wide defaults, and strips the others' names too.
            let app = try await harness.get("/app/x", cookies: cookies, headers: Self.forged)
            #expect(try Self.identityHeaders(app).contains("X-Forwarded-Roles: Repairs.Read,Repairs.Write"))
            #expect(try !Self.identityHeaders(app).contains { $0.contains("mallory") || $0.contains("evil") || $0.hasPrefix("X-Keyfax") })
        }
    }

    @Test("policy: any allow rule admits, a rule's conditions all hold, deny wins; refusals name the route and audit the rule")
    func policy() async throws {
        let audit = CapturedLog()
        try await SignInHarness.with(audit: audit, routes: Self.routes) { harness in
            let alice = try await harness.signIn("alice").cookies
            let bob = try await harness.signIn("bob").cookies
            #expect(try await harness.get("/keyfax/x", cookies: alice, method: .POST, body: "a=1").status == 200)  // authors
            let deleted = try await harness.get("/keyfax/x", cookies: alice, headers: [("Accept", "application/json")], method: .DELETE)
            #expect(deleted.status == 403)
            #expect(deleted.text.contains(#""route":"keyfax""#))
            #expect(!deleted.text.contains("no-deletes"))
            #expect(audit.lines.contains { $0.contains("event=access.denied") && $0.contains("rule=no-deletes") && $0.contains("user=alice") })

            let page = try await harness.get("/keyfax/x", cookies: bob, headers: [("Accept", "text/html")])
            #expect(page.status == 403)
            #expect(page.text.contains("keyfax"))
            #expect(!page.text.contains("authors"))
            #expect(audit.lines.contains { $0.contains("event=access.denied") && $0.contains("rule=allow") && $0.contains("user=bob") })
        }
    }

    @Test("step-up: a session without the route's authentication context goes back to the IdP asking for it, then passes; other routes keep working")
    func stepUp() async throws {
        let audit = CapturedLog()
        try await SignInHarness.with(audit: audit, routes: Self.routes) { harness in
            let cookies = try await harness.signIn("alice").cookies
            // An API client is told what is missing.
            let api = try await harness.get("/admin/users", cookies: cookies, headers: [("Accept", "application/json")])
            #expect(api.status == 401)
            #expect(api.text.contains(#""error":"insufficient_user_authentication""#) && api.text.contains(#""authContext":"c1""#))
            // A browser is sent to sign in again, asking Entra for c1.
            let redirect = try await harness.get("/admin/users", cookies: cookies, headers: [("Accept", "text/html")])
            #expect(redirect.status == 302)
            let login = try #require(redirect.location)
            #expect(login.hasPrefix("/.portcullis/login?authContext=c1&rd="))
            #expect(audit.lines.contains { $0.contains("event=access.step_up") && $0.contains("route=admin") })
            // Meanwhile the session serves every other route.
            #expect(try await harness.get("/app/x", cookies: cookies).status == 200)

            let started = try await harness.get(login, cookies: cookies)
            let authorize = try #require(started.location)
            let claims = try #require(URLComponents(string: authorize)?.queryItems?.first { $0.name == "claims" }?.value)
            #expect(claims == #"{"id_token":{"acrs":{"essential":true,"value":"c1"}}}"#)
            let callback = try await harness.pickUser("alice", at: .init(authorizeURL: authorize, cookies: started.setCookies))
            let signedIn = try await harness.get(callback, cookies: started.setCookies)
            #expect(signedIn.status == 302)
            #expect(signedIn.location == "/admin/users")
            let stepped = ["portcullis_session": try #require(signedIn.setCookies["portcullis_session"])]
            let admitted = try await harness.get("/admin/users", cookies: stepped, headers: [("Accept", "text/html")])
            #expect(admitted.status == 200)
            #expect(try admitted.echoedHeader("X-Forwarded-User") == "alice@contoso.example")
        }
    }

    @Test("the signed assertion verifies against /.portcullis/jwks.json, carries the route's claims, is reused, renewed and refused after exp")
    func assertion() async throws {
        let clock = TestClock()
        try await SignInHarness.with(extra: #", "assertion": { "lifetime": 30 }"#, clock: clock, routes: Self.routes) { harness in
            let cookies = try await harness.signIn("alice").cookies
            let jwks = try await harness.get("/.portcullis/jwks.json")
            #expect(jwks.status == 200)
            let upstream = try await JWTKeyCollection().add(jwksJSON: jwks.text)

            // Signed 100 s ago: already past its 30 s.
            clock.advance(-100)
            // A route whose send list leaves it out gets none.
            #expect(try await harness.get("/keyfax/x", cookies: cookies).echoedHeader("X-Portcullis-Assertion") == nil)
            let old = try #require(try await harness.get("/app/x", cookies: cookies).echoedHeader("X-Portcullis-Assertion"))
            await #expect(throws: (any Error).self) { _ = try await upstream.verify(old, as: AssertionClaims.self) }

            clock.advance(100)
            // One keep-alive connection: one event loop, whose cache the assertion lives in.
            let cookieHeader = [("Cookie", "portcullis_session=\(try #require(cookies["portcullis_session"]))")]
            let (first, reused, renewed) = try await TestHTTPClient.with(port: harness.port) { client in
                let first = try #require(try await client.send("/app/x", headers: cookieHeader).echoedHeader("X-Portcullis-Assertion"))
                let reused = try await client.send("/app/y", headers: cookieHeader).echoedHeader("X-Portcullis-Assertion")
                clock.advance(24)
                let renewed = try #require(try await client.send("/app/z", headers: cookieHeader).echoedHeader("X-Portcullis-Assertion"))
                return (first, reused, renewed)
            }
            #expect(first != old)
            let claims = try await upstream.verify(first, as: AssertionClaims.self)
            #expect(claims.aud == "app")
            #expect(claims.iss == harness.origin)
            #expect(claims.sub == "a11ce000-0000-4000-8000-000000000001")
            #expect(claims.preferredUsername == "alice@contoso.example")
            #expect(claims.roles == ["Repairs.Read", "Repairs.Write"])
            #expect(claims.amr == ["sso"])
            #expect(claims.exp - claims.iat == 30)
            // Reused while fresh: no signature per request.
            #expect(reused == first)
            // Near expiry a new one is signed.
            #expect(renewed != first)
            #expect(try await upstream.verify(renewed, as: AssertionClaims.self).iat >= claims.iat + 24)
        }
    }
}
