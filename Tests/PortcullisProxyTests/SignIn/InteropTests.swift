import Foundation
import Logging
import NIOHTTP1
import NIOPosix
import PortcullisCore
import PortcullisEcho
import PortcullisTestSupport
import Testing

@testable import PortcullisProxy

/// Sign-in against an OpenID provider we did not write (`oidc-provider-mock` from PyPI),
/// through `discoveryURL` with single-tenant issuer rules, and real-browser sign-ins
/// (headless Chromium via Selenium) against both providers.
@Suite("Sign-in interoperability and real browser (live)", .serialized)
struct InteropTests {
    struct MockGateway {
        let provider: MockOpenIDProvider
        let echo: EchoUpstream
        let live: LiveGateway
        var server: GatewayServer { live.server }
        var origin: String { "http://127.0.0.1:\(server.localAddress.port!)" }

        static let appRoute = #"[{ "name": "app", "upstream": "http://127.0.0.1:ECHO" }]"#

        static func start(
            scopes: String = #"["openid", "profile", "email"]"#, routes: String = appRoute, clock: TestClock? = nil, audit: CapturedLog? = nil
        ) async throws -> MockGateway {
            let provider = try MockOpenIDProvider(port: try closedPort())
            do {
                try await provider.waitUntilReady()
                try await provider.setClaims(
                    "alice", ["preferred_username": "alice@contoso.example", "name": "Alice Archer", "email": "alice@contoso.example", "groups": ["g-1", "g-2"]])
            } catch {
                provider.stop()
                throw error
            }
            let echo: EchoUpstream
            do {
                echo = try await EchoUpstream.start(port: 0, group: MultiThreadedEventLoopGroup.singleton)
            } catch {
                provider.stop()
                throw error
            }
            do {
                let port = try closedPort()
                let json = """
                    { "listen": { "port": \(port) }, "publicURL": "http://127.0.0.1:\(port)", "logging": { "accessLog": false },
                      "entra": { "discoveryURL": "\(provider.issuer)/.well-known/openid-configuration",
                                 "clientId": "portcullis-interop", "clientSecretEnv": "SECRET", "scopes": \(scopes) },
                      "routes": \(routes.replacingOccurrences(of: "ECHO", with: "\(echo.port)")) }
                    """
                let live = try await SignInHarness.startGateway(json, secret: "interop-secret", audit: audit, clock: clock)
                return MockGateway(provider: provider, echo: echo, live: live)
            } catch {
                provider.stop()
                await echo.close()
                throw error
            }
        }

        /// Starts the provider and the gateway, runs `body` and stops them (the provider, a
        /// child process, included) whether `body` returns or throws.
        static func with<T>(
            scopes: String = #"["openid", "profile", "email"]"#, routes: String = appRoute, clock: TestClock? = nil, audit: CapturedLog? = nil,
            _ body: (MockGateway) async throws -> T
        ) async throws -> T {
            try await scoped(try await start(scopes: scopes, routes: routes, clock: clock, audit: audit), stop: { await $0.stop() }, body)
        }

        func stop() async {
            provider.stop()
            await live.stop()
            await echo.close()
        }

        func get(_ uri: String, cookies: [String: String] = [:]) async throws -> TestResponse {
            var headers: [(String, String)] = [("Accept", "text/html")]
            if !cookies.isEmpty { headers.append(("Cookie", cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))) }
            return try await TestHTTPClient.with(port: server.localAddress.port!) { client in try await client.send(uri, headers: headers) }
        }
    }

    static let mockEnabled = ExternalTools.hasMockProvider || ExternalTools.isCI
    static let browserEnabled = (ExternalTools.hasBrowser && ExternalTools.hasMockProvider) || ExternalTools.isCI

    @Test("sign-in through a third-party provider (oidc-provider-mock) without a browser", .enabled(if: mockEnabled))
    func mockProviderFlow() async throws {
        try await MockGateway.with { gateway in
            let login = try await gateway.get("/.portcullis/login?rd=%2Fapp%3Fq%3D1")
            #expect(login.status == 302)
            let authorize = try #require(login.location)
            #expect(authorize.hasPrefix(gateway.provider.issuer + "/oauth2/authorize?"))
            // The provider's form posts `sub` back to the authorize URL; do what its button does.
            let picked = try await gateway.provider.send(authorize, method: .POST, contentType: "application/x-www-form-urlencoded", body: "sub=alice")
            let callback = try #require(picked.location, "\(picked.status) \(picked.text)")
            #expect(callback.hasPrefix(gateway.origin + "/.portcullis/callback?"))
            let signedIn = try await gateway.get(String(callback.dropFirst(gateway.origin.count)), cookies: login.setCookies)
            #expect(signedIn.status == 302, "\(signedIn.text)")
            #expect(signedIn.location == "/app?q=1")
            let page = try await gateway.get("/app?q=1", cookies: ["portcullis_session": try #require(signedIn.setCookies["portcullis_session"])])
            #expect(page.status == 200)
            #expect(try page.echoedHeader("X-Forwarded-User") == "alice@contoso.example")
            #expect(try page.echoedHeader("X-Forwarded-Groups") == "g-1,g-2")
            // The same code again is refused by our single-use state before reaching the provider.
            #expect(try await gateway.get(String(callback.dropFirst(gateway.origin.count)), cookies: login.setCookies).status == 400)
        }
    }

    @Test("revalidation with oidc-provider-mock's refresh tokens (scopes it did not grant are not re-requested)", .enabled(if: mockEnabled))
    func mockProviderRevalidation() async throws {
        let clock = TestClock()
        let audit = CapturedLog()
        try await MockGateway.with(scopes: #"["openid", "profile", "email", "offline_access"]"#, clock: clock, audit: audit) { gateway in
            let login = try await gateway.get("/.portcullis/login?rd=%2Fapp")
            let picked = try await gateway.provider.send(try #require(login.location), method: .POST, contentType: "application/x-www-form-urlencoded", body: "sub=alice")
            let callback = try #require(picked.location)
            let signedIn = try await gateway.get(String(callback.dropFirst(gateway.origin.count)), cookies: login.setCookies)
            let cookies = ["portcullis_session": try #require(signedIn.setCookies["portcullis_session"])]
            clock.advance(901)
            let page = try await gateway.get("/app", cookies: cookies)
            #expect(page.status == 200, "\(audit.lines.filter { $0.contains("session.") })")
            #expect(try page.echoedHeader("X-Forwarded-User") == "alice@contoso.example")
            #expect(audit.lines.contains { $0.contains("event=session.revalidated") && $0.contains("changed=false") })
            // The rotated (or kept) refresh token works again next time.
            clock.advance(901)
            #expect(try await gateway.get("/app", cookies: cookies).status == 200)
            #expect(audit.lines.filter { $0.contains("event=session.revalidated") }.count == 2)
        }
    }

    @Test(
        "access follows the provider: with oidc-provider-mock (no ID token on refresh) a group removed at the provider closes its route at the next revalidation, other routes stay open",
        .enabled(if: mockEnabled))
    func groupRemovedAtProvider() async throws {
        let clock = TestClock()
        let audit = CapturedLog()
        let routes = #"""
            [{ "name": "staff", "pathPrefix": "/staff", "upstream": "http://127.0.0.1:ECHO", "allow": { "groups": ["g-1"] } },
             { "name": "app", "upstream": "http://127.0.0.1:ECHO" }]
            """#
        try await MockGateway.with(scopes: #"["openid", "profile", "email", "offline_access"]"#, routes: routes, clock: clock, audit: audit) { gateway in
            let login = try await gateway.get("/.portcullis/login?rd=%2Fstaff")
            let picked = try await gateway.provider.send(try #require(login.location), method: .POST, contentType: "application/x-www-form-urlencoded", body: "sub=alice")
            let signedIn = try await gateway.get(String(try #require(picked.location).dropFirst(gateway.origin.count)), cookies: login.setCookies)
            let cookies = ["portcullis_session": try #require(signedIn.setCookies["portcullis_session"])]
            #expect(try await gateway.get("/staff/x", cookies: cookies).status == 200)
            // The provider drops alice from g-1; her session does not know yet.
            try await gateway.provider.setClaims(
                "alice", ["preferred_username": "alice@contoso.example", "name": "Alice Archer", "email": "alice@contoso.example", "groups": ["g-2"]])
            #expect(try await gateway.get("/staff/x", cookies: cookies).status == 200)
            clock.advance(901)
            let denied = try await gateway.get("/staff/x", cookies: cookies)
            #expect(denied.status == 403, "\(audit.lines.filter { $0.contains("session.") })")
            #expect(denied.text.contains("staff"))
            let other = try await gateway.get("/app/x", cookies: cookies)
            #expect(other.status == 200)
            #expect(try other.echoedHeader("X-Forwarded-Groups") == "g-2")
            #expect(audit.lines.contains { $0.contains("event=session.revalidated") && $0.contains("changed=true") })
            #expect(audit.lines.contains { $0.contains("event=access.denied") && $0.contains("route=staff") && $0.contains("rule=allow") })
        }
    }

    @Test(
        "step-up at a provider that ignores the claims request (oidc-provider-mock): the callback refuses instead of looping back to sign-in",
        .enabled(if: mockEnabled))
    func stepUpNotSatisfied() async throws {
        let audit = CapturedLog()
        let routes = #"[{ "name": "admin", "upstream": "http://127.0.0.1:ECHO", "authContext": "c1" }]"#
        try await MockGateway.with(routes: routes, audit: audit) { gateway in
            let redirect = try await gateway.get("/admin")
            #expect(redirect.status == 302)
            // Signed out: first an ordinary sign-in.
            let login = try await gateway.get(try #require(redirect.location))
            let picked = try await gateway.provider.send(try #require(login.location), method: .POST, contentType: "application/x-www-form-urlencoded", body: "sub=alice")
            let signedIn = try await gateway.get(String(try #require(picked.location).dropFirst(gateway.origin.count)), cookies: login.setCookies)
            let cookies = ["portcullis_session": try #require(signedIn.setCookies["portcullis_session"])]
            // The route asks for c1; the provider cannot give it.
            let stepUp = try await gateway.get("/admin", cookies: cookies)
            #expect(stepUp.location?.hasPrefix("/.portcullis/login?authContext=c1") == true)
            let again = try await gateway.get(try #require(stepUp.location), cookies: cookies)
            #expect(try #require(again.location).contains("claims="))
            let pickedAgain = try await gateway.provider.send(try #require(again.location), method: .POST, contentType: "application/x-www-form-urlencoded", body: "sub=alice")
            let refused = try await gateway.get(String(try #require(pickedAgain.location).dropFirst(gateway.origin.count)), cookies: again.setCookies)
            #expect(refused.status == 403)
            #expect(refused.text.contains("extra verification"))
            #expect(audit.lines.contains { $0.contains("event=signin.step_up_incomplete") })
            // The session it had still serves the routes it can.
            #expect(try await gateway.get("/admin", cookies: cookies).status == 302)
        }
    }

    @Test("readyz: ready with the provider's discovery document at hand, not ready when it has never been had", .enabled(if: mockEnabled))
    func readinessFollowsProvider() async throws {
        let withProvider = try await MockGateway.with { gateway in try await gateway.get("/.portcullis/readyz") }
        #expect(withProvider.status == 200, "\(withProvider.text)")
        // A gateway whose provider never answered: not ready, and the page names only the part.
        let port = try closedPort()
        let json = """
            { "listen": { "port": \(port) }, "publicURL": "http://127.0.0.1:\(port)", "logging": { "accessLog": false },
              "entra": { "discoveryURL": "http://127.0.0.1:\(try refusingPort())/.well-known/openid-configuration",
                         "clientId": "portcullis-interop", "clientSecretEnv": "SECRET", "requestTimeout": 1 },
              "routes": [{ "name": "app", "upstream": "http://127.0.0.1:9" }] }
            """
        let live = try await SignInHarness.startGateway(json, secret: "s")
        let ready = try await TestHTTPClient.with(port: port) { client in try await client.send("/.portcullis/readyz") }
        await live.stop()
        #expect(ready.status == 503)
        #expect(ready.text.contains("sign-in provider unavailable"))
    }

    @Test("a real browser signs in through the dev IdP and keeps its session", .enabled(if: browserEnabled))
    func browserDevIdP() async throws {
        try await SignInHarness.with { harness in
            let result = try await ExternalTools.browserLogin(
                start: harness.origin + "/app/hello?x=1", idp: "devidp", user: "alice", then: [harness.origin + "/app/again"])
            #expect(result["status"] as? String == "ok", "\(result)")
            #expect(result["finalURL"] as? String == harness.origin + "/app/hello?x=1")
            let headers = Self.headers(result["page"])
            #expect(headers["x-forwarded-user"] == "alice@contoso.example")
            #expect(headers["x-forwarded-roles"] == "Repairs.Read,Repairs.Write")
            #expect(headers["cookie"] == nil)
            let then = (result["then"] as? [[String: Any]])?.first
            #expect(Self.headers(then?["page"])["x-forwarded-user"] == "alice@contoso.example")
            #expect((result["cookies"] as? [String])?.contains("portcullis_session") == true)
        }
    }

    @Test("a real browser signs in through oidc-provider-mock", .enabled(if: browserEnabled))
    func browserMock() async throws {
        try await MockGateway.with { gateway in
            let result = try await ExternalTools.browserLogin(start: gateway.origin + "/app/mock", idp: "mock", user: "alice")
            #expect(result["status"] as? String == "ok", "\(result)")
            #expect(Self.headers(result["page"])["x-forwarded-user"] == "alice@contoso.example")
        }
    }

    /// The echo's `headers` (pairs) as a lowercased dictionary.
    static func headers(_ page: Any?) -> [String: String] {
        guard let page = page as? [String: Any], let pairs = page["headers"] as? [[String]] else { return [:] }
        var result: [String: String] = [:]
        for pair in pairs where pair.count == 2 { result[pair[0].lowercased()] = pair[1] }
        return result
    }
}

