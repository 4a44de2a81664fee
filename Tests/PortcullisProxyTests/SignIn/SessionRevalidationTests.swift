import Foundation
import NIOHTTP1
import PortcullisDevIdP
import PortcullisTestSupport
import Testing

@testable import PortcullisProxy

/// Sessions follow Entra: revalidation with the refresh token every `revalidateEvery`, and
/// an outage grace while Entra is unreachable. Time is moved with a test clock shared by
/// the gateway's sessions and its token checks.
@Suite("Session revalidation (live, dev IdP)", .serialized)
struct SessionRevalidationTests {
    static let session = #", "session": { "revalidateEvery": 900, "outageGrace": 3600 }"#

    /// A gateway on a test clock with alice signed in.
    struct SignedIn {
        let harness: SignInHarness
        let clock: TestClock
        let audit: CapturedLog
        let cookies: [String: String]

        /// Starts the gateway, signs alice in, runs `body` and stops the gateway whatever
        /// `body` does.
        static func with<T>(appRoute: String = "", _ body: (SignedIn) async throws -> T) async throws -> T {
            let clock = TestClock()
            let audit = CapturedLog()
            return try await SignInHarness.with(extra: SessionRevalidationTests.session, audit: audit, clock: clock, appRoute: appRoute) { harness in
                let cookies = try await harness.signIn("alice").cookies
                return try await body(SignedIn(harness: harness, clock: clock, audit: audit, cookies: cookies))
            }
        }
    }

    @Test("a role removed at Entra is gone from the next request after revalidateEvery; refresh tokens rotate")
    func roleRemoved() async throws {
        try await SignedIn.with { gateway in
            let (harness, clock, audit, cookies) = (gateway.harness, gateway.clock, gateway.audit, gateway.cookies)
            // One keep-alive connection throughout as well: what it remembers of the cookie and the
            // identity header lines must follow the revalidated identity.
            try await TestHTTPClient.with(port: harness.port) { client in
                let cookieHeader = [("Cookie", "portcullis_session=\(try #require(cookies["portcullis_session"]))")]
                #expect(try await client.send("/app/x", headers: cookieHeader).echoedHeader("X-Forwarded-Roles") == "Repairs.Read,Repairs.Write")
                #expect(try await harness.get("/app/x", cookies: cookies).echoedHeader("X-Forwarded-Roles") == "Repairs.Read,Repairs.Write")

                harness.idp.updateUser(key: "alice") { $0.roles = ["Repairs.Read"] }
                // Not due yet: the cached identity answers, no call to Entra.
                clock.advance(600)
                #expect(try await harness.get("/app/x", cookies: cookies).echoedHeader("X-Forwarded-Roles") == "Repairs.Read,Repairs.Write")
                #expect(!audit.lines.contains { $0.contains("session.revalidated") })

                clock.advance(301)
                let after = try await harness.get("/app/x", cookies: cookies)
                #expect(after.status == 200)
                #expect(try after.echoedHeader("X-Forwarded-Roles") == "Repairs.Read")
                #expect(audit.lines.contains { $0.contains("event=session.revalidated") && $0.contains("changed=true") })
                #expect(try await client.send("/app/x", headers: cookieHeader).echoedHeader("X-Forwarded-Roles") == "Repairs.Read")

                // A second revalidation works only with the rotated refresh token (the dev IdP
                // refuses a used one).
                harness.idp.updateUser(key: "alice") { $0.roles = ["Repairs.Read", "Repairs.Admin"] }
                clock.advance(901)
                #expect(try await harness.get("/app/x", cookies: cookies).echoedHeader("X-Forwarded-Roles") == "Repairs.Read,Repairs.Admin")
                #expect(audit.lines.filter { $0.contains("event=session.revalidated") }.count == 2)
                // Revalidation logs the user and counts, never a token or the session handle.
                for secret in ["eyJ", try #require(cookies["portcullis_session"]), SignInHarness.clientSecret] {
                    #expect(!audit.lines.contains { $0.contains(secret) }, "an audit line contains a secret")
                }
            }
        }
    }

    @Test("a route open to one role: once the role is removed at Entra, the next request after revalidateEvery is denied")
    func roleRemovedDenied() async throws {
        try await SignedIn.with(appRoute: #", "allow": { "roles": ["Repairs.Write"] }"#) { gateway in
            let (harness, clock, audit, alice) = (gateway.harness, gateway.clock, gateway.audit, gateway.cookies)
            let (_, bob) = try await harness.signIn("bob")
            #expect(try await harness.get("/app/x", cookies: alice).status == 200)
            // bob has no such role: signed in, but not admitted.
            let refused = try await harness.get("/app/x", cookies: bob, headers: SignInFlowTests.browser)
            #expect(refused.status == 403)
            #expect(refused.text.contains("Access denied"))
            #expect(audit.lines.contains { $0.contains("event=access.denied") && $0.contains("route=app") })

            harness.idp.updateUser(key: "alice") { $0.roles = ["Repairs.Read"] }
            clock.advance(901)
            #expect(try await harness.get("/app/x", cookies: alice).status == 403)
            // Public routes stay open to her.
            #expect(try await harness.get("/public/x", cookies: alice).status == 200)
        }
    }

    @Test("near the due time, a session in use is revalidated in the background without delaying the request")
    func earlyRevalidation() async throws {
        try await SignedIn.with { gateway in
            let (harness, clock, audit, cookies) = (gateway.harness, gateway.clock, gateway.audit, gateway.cookies)
            harness.idp.updateUser(key: "alice") { $0.roles = ["Repairs.Read"] }
            clock.advance(0.85 * 900)
            // This request is answered with the identity it has; the refresh runs beside it.
            #expect(try await harness.get("/app/x", cookies: cookies).status == 200)
            let refreshed = try await SharedSessionStoreTests.within(3) {
                try await harness.get("/app/x", cookies: cookies).echoedHeader("X-Forwarded-Roles") == "Repairs.Read"
            }
            #expect(refreshed != nil)
            #expect(audit.lines.filter { $0.contains("event=session.revalidated") }.count == 1)
        }
    }

    @Test("a user disabled at Entra loses the session at the next revalidation")
    func disabledUser() async throws {
        try await SignedIn.with { gateway in
            let (harness, clock, audit, cookies) = (gateway.harness, gateway.clock, gateway.audit, gateway.cookies)
            #expect(try await harness.get("/app/x", cookies: cookies).status == 200)
            harness.idp.updateUser(key: "alice") { $0.disabled = true }
            clock.advance(901)
            let denied = try await harness.get("/app/x", cookies: cookies)
            #expect(denied.status == 401)
            #expect(harness.live.gate.cache.count == 0)
            #expect(audit.lines.contains { $0.contains("event=session.revalidation_refused") && $0.contains("user=alice@contoso.example") })
            // Ended, not merely refused once: the next request does not try again.
            #expect(try await harness.get("/app/x", cookies: cookies).status == 401)
            // A browser is sent to sign in again.
            #expect(try await harness.get("/app/x", cookies: cookies, headers: SignInFlowTests.browser).status == 302)
        }
    }

    @Test("Entra unreachable: the session keeps working within outageGrace, each use logged, and ends after it")
    func outageGrace() async throws {
        try await SignedIn.with { gateway in
            let (harness, clock, audit, cookies) = (gateway.harness, gateway.clock, gateway.audit, gateway.cookies)
            #expect(try await harness.get("/app/x", cookies: cookies).status == 200)
            await harness.idp.close()

            clock.advance(901)
            let during = try await harness.get("/app/x", cookies: cookies)
            #expect(during.status == 200)
            #expect(try during.echoedHeader("X-Forwarded-User") == "alice@contoso.example")
            // Within the retry interval the session is let through without another attempt, logged.
            clock.advance(5)
            #expect(try await harness.get("/app/x", cookies: cookies).status == 200)
            #expect(audit.lines.filter { $0.contains("event=session.outage_grace") }.count >= 2)

            // Past revalidateEvery + outageGrace the session ends.
            clock.advance(3600)
            #expect(try await harness.get("/app/x", cookies: cookies).status == 401)
            #expect(audit.lines.contains { $0.contains("event=session.outage_grace_over") })
            #expect(harness.live.gate.cache.count == 0)
        }
    }

    @Test("a session cookie set with cookieDomain and persistentCookie false carries Domain and no Max-Age")
    func cookieAttributes() async throws {
        try await SignInHarness.with(extra: #", "session": { "cookieDomain": "127.0.0.1", "persistentCookie": false }"#) { harness in
            let (callback, cookies) = try await harness.signIn("alice")
            let header = try #require(callback.head.headers["set-cookie"].first { $0.hasPrefix("portcullis_session=") && !$0.contains("Max-Age=0") })
            #expect(header.contains("; Domain=127.0.0.1"))
            #expect(!header.contains("Max-Age"))
            #expect(try await harness.get("/app/x", cookies: cookies).status == 200)
        }
    }
}
