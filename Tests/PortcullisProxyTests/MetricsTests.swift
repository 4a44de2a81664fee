import Foundation
import NIOPosix
import PortcullisProxy
import PortcullisTestSupport
import Testing

/// The admin listener's `/metrics`: what moves after a sign-in and proxied requests, and that
/// the public listener serves none of it.
@Suite("Metrics on the admin listener (live)")
struct MetricsTests {
    @Test("a scrape shows requests by route and status, upstream latency, audited sign-ins and gauges; the public listener has no metrics")
    func scrape() async throws {
        try await SignInHarness.with(extra: #", "admin": { "listen": { "port": 0 } }"#) { harness in
            let admin = try #require(try await harness.live.gateway.startAdminListener())
            let adminPort = try #require(admin.localAddress.port)
            func scrape() async throws -> String {
                try await TestHTTPClient.with(port: adminPort) { client in try await client.send("/metrics") }.text
            }
            do {
                let before = try await scrape()
                #expect(!before.contains(#"portcullis_requests_total{route="app""#))
                #expect(before.contains("portcullis_sessions_cached 0"))

                let cookies = try await harness.signIn("alice").cookies
                for _ in 0..<3 { #expect(try await harness.get("/app/x", cookies: cookies).status == 200) }
                #expect(try await harness.get("/nothing-here-is-public/x").status == 401)

                let after = try await scrape()
                #expect(after.contains(#"portcullis_requests_total{route="app",status="2xx"} 3"#), "\(after)")
                #expect(after.contains(#"portcullis_requests_total{route="app",status="4xx"} 1"#))
                #expect(after.contains(#"portcullis_upstream_response_seconds_count{route="app"} 3"#))
                #expect(after.contains(#"portcullis_audit_events_total{event="signin.success"} 1"#))
                #expect(after.contains("portcullis_sessions_cached 1"))
                #expect(after.contains("portcullis_sso_enabled 1"))
                #expect(after.contains("portcullis_build_info{"))
                // Three signed-in requests found their session in the cache.
                #expect(after.contains(#"portcullis_session_cache_lookups_total{result="hit"} 3"#), "\(after)")
                // The sign-in's calls to the IdP, timed and counted by call and outcome.
                #expect(after.contains(#"portcullis_idp_requests_total{call="token",outcome="ok"} 1"#), "\(after)")
                #expect(after.contains(#"portcullis_idp_requests_total{call="discovery",outcome="ok"} 1"#))
                #expect(after.contains(#"portcullis_idp_requests_total{call="keys",outcome="ok"} 1"#))
                #expect(after.contains(#"portcullis_idp_request_seconds_count{call="token"} 1"#))
                // Nothing of it on the public listener: /metrics there is just another path
                // (here the app route's upstream, after sign-in).
                let publicMetrics = try await harness.get("/metrics", cookies: cookies)
                #expect(!publicMetrics.text.contains("portcullis_requests_total"))
                let other = try await TestHTTPClient.with(port: adminPort) { client in try await client.send("/app/x") }
                #expect(other.status == 404)
            } catch {
                await admin.close()
                throw error
            }
            await admin.close()
        }
    }
}
