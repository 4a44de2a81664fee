import Foundation
import NIOHTTP1
import PortcullisDevIdP
import PortcullisTestSupport
import Testing

@testable import PortcullisProxy

/// The whole sign-in through the gateway against the Entra-shaped dev IdP, over loopback.
@Suite("Sign-in flow (live, dev IdP)", .serialized)
struct SignInFlowTests {
    static let browser = [("Accept", "text/html,application/xhtml+xml")]

    @Test("a browser is sent to sign in; after sign-in the identity reaches the upstream and our cookies do not")
    func fullLogin() async throws {
        try await SignInHarness.with { harness in
            let first = try await harness.get("/app/hello?x=1", headers: Self.browser)
            #expect(first.status == 302)
            #expect(first.location == "/.portcullis/login?rd=%2Fapp%2Fhello%3Fx%3D1")

            let started = try await harness.startLogin()
            let authorize = try #require(URLComponents(string: started.authorizeURL))
            let query = Dictionary(uniqueKeysWithValues: (authorize.queryItems ?? []).map { ($0.name, $0.value ?? "") })
            #expect(query["response_type"] == "code" && query["code_challenge_method"] == "S256")
            #expect(query["redirect_uri"] == harness.origin + "/.portcullis/callback")
            #expect(query["scope"] == "openid profile email offline_access")
            #expect(query["state"]?.count == 43 && query["nonce"]?.count == 43 && query["code_challenge"]?.count == 43)
            #expect(started.cookies.keys.contains { $0.hasPrefix("portcullis_session_login_") })

            let callback = try await harness.pickUser("alice", at: started)
            let signedIn = try await harness.get(callback, cookies: started.cookies)
            #expect(signedIn.status == 302)
            #expect(signedIn.location == "/app/hello?x=1")
            let sessionCookie = try #require(signedIn.setCookies["portcullis_session"])
            #expect(signedIn.head.headers["set-cookie"].contains { $0.hasPrefix("portcullis_session=") && $0.contains("HttpOnly") && $0.contains("SameSite=Lax") })
            // The pending-login cookie is deleted at the callback.
            #expect(signedIn.setCookies.contains { $0.key.hasPrefix("portcullis_session_login_") && $0.value.isEmpty })

            let page = try await harness.get(
                "/app/hello?x=1",
                cookies: ["portcullis_session": sessionCookie, "theme": "dark"],
                headers: [("X-Forwarded-User", "mallory"), ("X_Forwarded_Roles", "Admin")])
            #expect(page.status == 200)
            #expect(try page.echoedHeader("X-Forwarded-User") == "alice@contoso.example")
            #expect(try page.echoedHeader("X-Forwarded-Email") == "alice@contoso.example")
            #expect(try page.echoedHeader("X-Forwarded-Name") == "Alice Archer")
            #expect(try page.echoedHeader("X-Forwarded-Roles") == "Repairs.Read,Repairs.Write")
            #expect(try page.echoedHeader("X-Forwarded-Groups") == "9a000000-0000-4000-8000-000000000001,9a000000-0000-4000-8000-000000000002")
            #expect(try page.echoedHeader("X-Auth-Method") == "sso")
            let forwarded = try page.echoedHeaders()
            #expect(forwarded.filter { $0.0.lowercased() == "x-forwarded-user" }.count == 1)
            #expect(!forwarded.contains { $0.0.lowercased() == "x_forwarded_roles" })
            // The session cookie is the gateway's: only the application's own cookie is forwarded.
            #expect(try page.echoedHeader("Cookie") == "theme=dark")
        }
    }

    @Test("a replayed callback fails, and a callback without the pending cookie fails")
    func callbackReplay() async throws {
        try await SignInHarness.with { harness in
            let started = try await harness.startLogin()
            let callback = try await harness.pickUser("alice", at: started)
            let first = try await harness.get(callback, cookies: started.cookies)
            #expect(first.status == 302 && first.setCookies["portcullis_session"] != nil)
            // The same request again, pending cookie included (an attacker's copy).
            let replay = try await harness.get(callback, cookies: started.cookies)
            #expect(replay.status == 400)
            #expect(replay.setCookies["portcullis_session"] == nil)

            let other = try await harness.startLogin()
            let otherCallback = try await harness.pickUser("alice", at: other)
            let noCookie = try await harness.get(otherCallback)
            #expect(noCookie.status == 400)
            #expect(noCookie.setCookies["portcullis_session"] == nil)
            // With another login's pending cookie (login CSRF / swapped tabs) it fails too.
            let swapped = try await harness.get(otherCallback, cookies: started.cookies)
            #expect(swapped.status == 400)
        }
    }

    @Test("API clients, XHR and POSTs get 401 JSON, not a redirect")
    func nonBrowser() async throws {
        try await SignInHarness.with { harness in
            for (headers, method) in [
                ([("Accept", "application/json")], HTTPMethod.GET),
                ([("Accept", "text/html"), ("X-Requested-With", "XMLHttpRequest")], .GET),
                ([("Accept", "text/html"), ("Sec-Fetch-Mode", "cors")], .GET),
                (Self.browser, .POST),
                ([], .GET),
            ] {
                let response = try await harness.get("/app/data", headers: headers, method: method, body: method == .POST ? "a=1" : nil)
                #expect(response.status == 401)
                #expect(response.head.headers.first(name: "content-type") == "application/json")
                #expect(response.text.contains("\"unauthenticated\""))
            }
            let open = try await harness.get("/public/x", headers: [("Accept", "application/json")])
            #expect(open.status == 200)
        }
    }

    @Test("tampered, truncated, foreign and garbage session cookies are anonymous", arguments: [
        "", "x", "AAAA", "%00", String(repeating: "A", count: 5000), "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ])
    func badCookies(_ value: String) async throws {
        try await SignInHarness.with { harness in
            let response = try await harness.get("/app/x", cookies: ["portcullis_session": value], headers: Self.browser)
            #expect(response.status == 302)
        }
    }

    @Test("a real session cookie altered in any way is anonymous")
    func alteredCookie() async throws {
        try await SignInHarness.with { harness in
            let (_, cookies) = try await harness.signIn("alice")
            let good = try #require(cookies["portcullis_session"])
            #expect(try await harness.get("/app/x", cookies: ["portcullis_session": good]).status == 200)
            var altered = Array(good)
            altered[20] = altered[20] == "A" ? "B" : "A"
            #expect(try await harness.get("/app/x", cookies: ["portcullis_session": String(altered)]).status == 401)
            #expect(try await harness.get("/app/x", cookies: ["portcullis_session": String(good.dropLast(4))]).status == 401)
        }
    }

    @Test("Entra errors become a friendly escaped page with the AADSTS code and correlation id")
    func providerError() async throws {
        try await SignInHarness.with { harness in
            let (response, cookies) = try await harness.signIn("dave")
            #expect(response.status == 403)
            #expect(response.text.contains("not assigned to this application"))
            #expect(response.text.contains("AADSTS50105"))
            #expect(response.text.contains("Correlation ID"))
            #expect(cookies["portcullis_session"] == nil)

            // Forged error text is never reflected.
            let started = try await harness.startLogin()
            let state = try #require(URLComponents(string: started.authorizeURL)?.queryItems?.first { $0.name == "state" }?.value)
            let forged = try await harness.get(
                "/.portcullis/callback?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&error_description=%3Cimg%20src%3Dx%3E%20Correlation%20ID%3A%20%3Cb%3E&state=\(state)",
                cookies: started.cookies, headers: Self.browser)
            #expect(forged.status == 403)
            #expect(!forged.text.contains("<script>") && !forged.text.contains("<img") && !forged.text.contains("<b>"))
        }
    }

    @Test("return URLs are guarded: hostile rd values land on /")
    func returnURLGuard() async throws {
        try await SignInHarness.with { harness in
            for rd in ["//evil.example/x", "/\\evil.example", "https://evil.example/", "javascript:alert(1)", "/%2F%2Fevil.example"] {
                let (response, _) = try await harness.signIn("alice", rd: rd)
                #expect(response.status == 302)
                #expect(response.location == "/", "rd \(rd) went to \(response.location ?? "nil")")
            }
        }
    }

    @Test("several tabs can sign in at once; pending cookies are capped")
    func severalTabs() async throws {
        try await SignInHarness.with { harness in
            let tab1 = try await harness.startLogin(rd: "/one")
            var jar = tab1.cookies
            let tab2 = try await harness.startLogin(rd: "/two", cookies: jar)
            for (name, value) in tab2.cookies { jar[name] = value.isEmpty ? nil : value }
            // Complete the second first, then the first, each with the whole jar.
            let second = try await harness.get(try await harness.pickUser("alice", at: tab2), cookies: jar)
            #expect(second.status == 302 && second.location == "/two")
            let first = try await harness.get(try await harness.pickUser("bob", at: tab1), cookies: jar)
            #expect(first.status == 302 && first.location == "/one")

            // Six abandoned sign-ins leave at most the cap of pending cookies.
            var pile: [String: String] = [:]
            for index in 0..<6 {
                let started = try await harness.startLogin(rd: "/p\(index)", cookies: pile)
                for (name, value) in started.cookies { pile[name] = value.isEmpty ? nil : value }
                try await Task.sleep(for: .milliseconds(1100))  // distinct creation seconds, so "oldest" is defined
                if index == 5 { break }
            }
            #expect(pile.count <= 4, "\(pile.count) pending cookies")
        }
    }

    @Test("multi-tenant: a tenant outside allowedTenants is refused; group overage is read from Graph")
    func tenantsAndOverage() async throws {
        try await SignInHarness.with(
            tenant: "organizations",
            entra: #", "allowedTenants": ["\#(DevIdPDirectory.demoContosoTenantID)"], "groupsOverage": "graph", "scopes": ["openid", "profile", "email", "offline_access", "User.Read"]"#
        ) { harness in
            let (erin, erinCookies) = try await harness.signIn("erin")
            #expect(erin.status == 403)
            #expect(erinCookies["portcullis_session"] == nil)

            let (carol, cookies) = try await harness.signIn("carol")
            #expect(carol.status == 302)
            let page = try await harness.get("/app/x", cookies: cookies)
            let groups = try #require(try page.echoedHeader("X-Forwarded-Groups"))
            #expect(groups.split(separator: ",").count == 5)
        }
    }

    @Test("group overage with groupsOverage deny refuses the sign-in")
    func overageDenied() async throws {
        try await SignInHarness.with { harness in
            let (carol, cookies) = try await harness.signIn("carol")
            #expect(carol.status == 403)
            #expect(cookies["portcullis_session"] == nil)
        }
    }

    @Test("rotated signing keys are picked up (unknown kid refetch)")
    func keyRotation() async throws {
        // `throws` spelled out: its only `try`s are inside #expect, which closure inference misses.
        try await SignInHarness.with { harness throws in
            #expect(try await harness.signIn("alice").callback.status == 302)
            harness.idp.rotateSigningKey(keepPrevious: false)
            #expect(try await harness.signIn("bob").callback.status == 302)
        }
    }

    @Test("IdP unreachable: a clear 503 sign-in-unavailable page")
    func idpDown() async throws {
        try await SignInHarness.with { harness in
            await harness.idp.close()
            let response = try await harness.get("/.portcullis/login?rd=/x", headers: Self.browser)
            #expect(response.status == 503)
            #expect(response.text.contains("Sign-in is unavailable"))
        }
    }

    @Test("logout ends the session and signs out at the IdP")
    func logout() async throws {
        try await SignInHarness.with { harness in
            let (_, cookies) = try await harness.signIn("alice")
            #expect(try await harness.get("/app/x", cookies: cookies).status == 200)
            let out = try await harness.get("/.portcullis/logout", cookies: cookies)
            #expect(out.status == 302)
            #expect(out.location?.hasPrefix(harness.idp.baseURL) == true)
            #expect(out.location?.contains("post_logout_redirect_uri=") == true)
            #expect(out.setCookies["portcullis_session"] == "")
            #expect(try await harness.get("/app/x", cookies: cookies).status == 401)
        }
    }

    @Test("front-channel logout by sid ends the session without a cookie")
    func frontChannel() async throws {
        try await SignInHarness.with { harness in
            let started = try await harness.startLogin()
            let callback = try await harness.pickUser("alice", at: started)
            let sid = try #require(URLComponents(string: "http://x" + callback)?.queryItems?.first { $0.name == "session_state" }?.value)
            let response = try await harness.get(callback, cookies: started.cookies)
            let cookies = ["portcullis_session": try #require(response.setCookies["portcullis_session"])]
            #expect(try await harness.get("/app/x", cookies: cookies).status == 200)
            // Another provider's issuer is ignored.
            #expect(try await harness.get("/.portcullis/frontchannel-logout?sid=\(sid)&iss=https%3A%2F%2Fevil.example%2Fv2.0").status == 200)
            #expect(try await harness.get("/app/x", cookies: cookies).status == 200)
            // With this provider's issuer (as Entra may send it), or without one, it ends the session.
            let iss = "\(harness.idp.baseURL)/\(DevIdPDirectory.demoContosoTenantID)/v2.0".addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            #expect(try await harness.get("/.portcullis/frontchannel-logout?sid=\(sid)&iss=\(iss)").status == 200)
            #expect(try await harness.get("/app/x", cookies: cookies).status == 401)
        }
    }
}

@Suite("Sign-in with a certificate credential (live, dev IdP)")
struct CertificateCredentialTests {
    @Test("the gateway authenticates to the token endpoint with a private_key_jwt assertion")
    func certificateSignIn() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pc-cert-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let certificate = directory.appendingPathComponent("gateway.crt"), key = directory.appendingPathComponent("gateway.key")
        try GatewayTestCertificate.certificatePEM.write(to: certificate, atomically: true, encoding: .utf8)
        try GatewayTestCertificate.privateKeyPEM.write(to: key, atomically: true, encoding: .utf8)
        try await SignInHarness.with(
            entra: #", "clientCertificate": { "certificateFile": "\#(certificate.path)", "privateKeyFile": "\#(key.path)" }"#,
            certificatePEM: GatewayTestCertificate.certificatePEM
        ) { harness in
            let (response, cookies) = try await harness.signIn("alice")
            #expect(response.status == 302, "\(response.text)")
            let page = try await harness.get("/app/x", cookies: cookies)
            #expect(try page.echoedHeader("X-Forwarded-User") == "alice@contoso.example")
        }
    }
}

@Suite("Audit log of sign-in decisions (live, dev IdP)")
struct SignInAuditTests {
    @Test("every decision is logged with its event, and no code, state, token, cookie or secret ever is")
    func auditLog() async throws {
        let audit = CapturedLog()
        // The checks run outside the closure, on the audit lines read while the gateway still
        // runs: inside it, Swift 6.3.1's SendNonSendable pass crashes the compiler (map::at).
        let (started, callback, session, lines) = try await SignInHarness.with(audit: audit) { harness in
            let started = try await harness.startLogin()
            let callback = try await harness.pickUser("alice", at: started)
            let signedIn = try await harness.get(callback, cookies: started.cookies)
            let session = try #require(signedIn.setCookies["portcullis_session"])
            _ = try await harness.get(callback, cookies: started.cookies)  // replay
            _ = try await harness.signIn("dave")  // Entra refuses
            _ = try await harness.get("/.portcullis/logout", cookies: ["portcullis_session": session])
            return (started, callback, session, audit.lines)
        }

        for event in ["signin.start", "signin.success", "signin.replayed", "signin.provider_error", "signout"] {
            #expect(lines.contains { $0.contains("event=\(event)") }, "no \(event) in \(lines)")
        }
        #expect(lines.contains { $0.contains("event=signin.success") && $0.contains("user=alice@contoso.example") })

        let query = try #require(URLComponents(string: "http://x" + callback)?.queryItems)
        var secrets = query.compactMap { $0.name == "code" || $0.name == "state" ? $0.value : nil }
        secrets += [session, SignInHarness.clientSecret, "eyJ"]  // "eyJ" starts every JWT
        secrets += started.cookies.values.filter { !$0.isEmpty }
        #expect(secrets.count >= 5)
        for secret in secrets {
            #expect(!lines.contains { $0.contains(secret) }, "an audit line contains a secret")
        }
    }

    @Test("one keep-alive connection: each request's cookie decides, a tampered one is anonymous, a logged-out one ends")
    func cookiesOnOneConnection() async throws {
        try await SignInHarness.with { harness in
            let alice = try #require(try await harness.signIn("alice").cookies["portcullis_session"])
            let bob = try #require(try await harness.signIn("bob").cookies["portcullis_session"])
            try await TestHTTPClient.with(port: harness.port) { client in
                func user(_ cookie: String) async throws -> (UInt, String?) {
                    let response = try await client.send("/app/hello", headers: [("Cookie", "portcullis_session=\(cookie)")])
                    return (response.head.status.code, response.head.status == .ok ? try response.echoedHeader("X-Forwarded-User") : nil)
                }
                #expect(try await user(alice) == (200, "alice@contoso.example"))
                #expect(try await user(alice) == (200, "alice@contoso.example"))
                #expect(try await user(bob) == (200, "bob@contoso.example"))
                // Same length as alice's, one character changed: it must be opened, and it does not open.
                let last = alice.last == "A" ? "B" : "A"
                #expect(try await user(String(alice.dropLast()) + last).0 == 401)
                #expect(try await user(alice) == (200, "alice@contoso.example"))
                // Logged out elsewhere: the connection's next request with the same cookie is anonymous.
                _ = try await harness.get("/.portcullis/logout", cookies: ["portcullis_session": alice])
                #expect(try await user(alice).0 == 401)
                #expect(try await user(bob) == (200, "bob@contoso.example"))
            }
        }
    }
}
