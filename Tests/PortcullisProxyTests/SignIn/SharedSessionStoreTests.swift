import Foundation
import Logging
import NIOHTTP1
import PortcullisAuth
import PortcullisCore
import PortcullisPostgres
import PortcullisSessions
import PortcullisTestSupport
import Testing

@testable import PortcullisProxy

/// Two gateway instances sharing one PostgreSQL session store, as behind a load balancer.
/// Live: a throwaway PostgreSQL server (skipped only when its binaries are missing and CI is
/// not `true`).
@Suite("Shared PostgreSQL session store (live, two gateways)", .serialized, .enabled(if: TestPostgresServer.testsEnabled))
struct SharedSessionStoreTests {
    /// A database, a keys file, gateway A (the harness) and gateway B on another port.
    struct Pair {
        let postgres: TestPostgresServer
        let a: SignInHarness
        let b: LiveGateway
        let audit: CapturedLog
        let url: String
        /// The keys file both gateways read.
        let keys: URL
        var bPort: Int { b.port }

        /// Starts the database and both gateways, runs `body` and stops all of it whether
        /// `body` returns or throws.
        static func with<T>(_ body: (Pair) async throws -> T) async throws -> T {
            try await TestPostgresServer.with { postgres in
                let url = try await postgres.createDatabase("gateways")
                let keys = FileManager.default.temporaryDirectory.appendingPathComponent("pc-keys-\(UUID().uuidString)")
                try Data((Data(KeyRing.newKey()).base64EncodedString() + "\n").utf8).write(to: keys)
                let audit = CapturedLog()
                let session = #", "session": { "keysFile": "\#(keys.path)", "store": { "type": "postgres", "url": "\#(url)" } }"#
                return try await SignInHarness.with(extra: session, audit: audit) { a in
                    let b = try await SignInHarness.startGateway(a.configJSON, port: try closedPort(), audit: audit)
                    return try await scoped(Pair(postgres: postgres, a: a, b: b, audit: audit, url: url, keys: keys), stop: { await $0.b.stop() }, body)
                }
            }
        }

        func getB(_ uri: String, cookies: [String: String], method: HTTPMethod = .GET, body: String? = nil) async throws -> TestResponse {
            let headers = [("Cookie", cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))]
            return try await TestHTTPClient.with(port: bPort) { client in try await client.send(uri, method: method, headers: headers, body: body) }
        }
    }

    /// Polls until `condition` holds; returns the seconds it took, or nil after `limit`.
    static func within(_ limit: TimeInterval, _ condition: () async throws -> Bool) async throws -> TimeInterval? {
        let start = Date()
        while Date().timeIntervalSince(start) < limit {
            if try await condition() { return Date().timeIntervalSince(start) }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    @Test("signed in through A, the session works through B; logged out through B, A refuses it within seconds (the latency is printed)")
    func signInAUseBLogoutB() async throws {
        try await Pair.with { pair in
            let (_, cookies) = try await pair.a.signIn("alice")
            #expect(try await pair.a.get("/app/x", cookies: cookies).status == 200)
            // B has never seen this session: its cache misses and the store answers, while the
            // request's body waits and then goes upstream whole.
            let body = String(repeating: "form=data&", count: 2000)
            let posted = try await pair.getB("/app/form", cookies: cookies, method: .POST, body: body)
            #expect(posted.status == 200)
            #expect(posted.text.contains("\"bodyBytes\":\(body.utf8.count)"))
            let throughB = try await pair.getB("/app/x", cookies: cookies)
            #expect(throughB.status == 200)
            #expect(try throughB.echoedHeader("X-Forwarded-User") == "alice@contoso.example")
            #expect(pair.b.gate.cache.count == 1)
            // B's miss was one timed store read; A's sign-in one store write.
            let metricsB = await pair.b.gateway.scrapeMetrics()
            #expect(metricsB.contains(#"portcullis_session_cache_lookups_total{result="miss"} 1"#), "\(metricsB)")
            #expect(metricsB.contains(#"portcullis_store_requests_total{operation="get",outcome="ok"} 1"#))
            #expect(metricsB.contains(#"portcullis_store_request_seconds_count{operation="get"} 1"#))
            #expect(await pair.a.live.gateway.scrapeMetrics().contains(#"portcullis_store_requests_total{operation="put",outcome="ok"}"#))

            let logout = try await pair.getB("/.portcullis/logout", cookies: cookies)
            #expect(logout.status == 302)
            // A still had the session cached; the store's notification evicts it.
            // The notice usually takes milliseconds; the window is wide for a loaded CI machine (without
            // the notice A would accept the cached session until its revalidation, minutes away).
            let latency = try await Self.within(5.0) { try await pair.a.get("/app/x", cookies: cookies).status == 401 }
            #expect(latency != nil, "A still accepted the cookie 5 s after logout through B")
            print("logout through B reached A after \(latency.map { "\($0) s" } ?? "-")")
            #expect(pair.a.live.gate.cache.count == 0)
        }
    }

    @Test("after a reload that rotates the keys file, the store seals refresh tokens with the new key (the removed one opens nothing)")
    func keyRotationReachesStore() async throws {
        try await Pair.with { pair in
            // The old key removed and a new one in its place: A reloads.
            let newKey = KeyRing.newKey()
            try Data((Data(newKey).base64EncodedString() + "\n").utf8).write(to: pair.keys)
            let config = try GatewayConfig.load(Data(pair.a.configJSON.utf8), environment: { $0 == "SECRET" ? SignInHarness.clientSecret : nil })
            _ = try await pair.a.live.gateway.reload(config)
            let (_, cookies) = try await pair.a.signIn("bob")
            let newKeys = KeyRing(keys: [newKey])
            let sealed = try #require(cookies[pair.a.live.gateway.runtime.sessionRules.cookies.sessionName])
            let id = try #require(newKeys.open(sealed, context: SessionRules.sealContext).flatMap { SessionID(bytes: $0) })
            // A reader that holds only the new key opens the stored refresh token.
            let reader = try PostgresSessionStore(url: pair.url, codec: SessionCodec(keyRing: newKeys), logger: Logger(label: "reader"))
            let running = Task { try await reader.run { _ in } }
            defer { running.cancel() }
            let stored = try #require(try await reader.session(id: id))
            #expect(stored.identity.username == "bob@contoso.example")
            #expect(stored.refreshToken != nil, "the stored refresh token was sealed with a key the reload removed")
        }
    }

    @Test("revoking a user in the store ends their sessions on every instance within seconds (the latency is printed)")
    func revokeUser() async throws {
        try await Pair.with { pair in
            let (_, alice) = try await pair.a.signIn("alice")
            let (_, bob) = try await pair.a.signIn("bob")
            #expect(try await pair.getB("/app/x", cookies: alice).status == 200)
            #expect(try await pair.getB("/app/x", cookies: bob).status == 200)
            // What `portcullis sessions revoke --user` does: its own store client deletes, from outside.
            let admin = try PostgresSessionStore(url: pair.url, codec: SessionCodec(keyRing: .ephemeral()), logger: Logger(label: "admin"))
            let running = Task { try await admin.run { _ in } }
            defer { running.cancel() }
            let ended = try await admin.deleteAll(username: "alice@contoso.example")
            #expect(ended == 1)
            let onA = try await Self.within(5.0) { try await pair.a.get("/app/x", cookies: alice).status == 401 }
            let onB = try await Self.within(5.0) { try await pair.getB("/app/x", cookies: alice).status == 401 }
            #expect(onA != nil && onB != nil)
            print("revocation reached A after \(onA.map { "\($0) s" } ?? "-"), B after \(onB.map { "\($0) s" } ?? "-")")
            #expect(try await pair.getB("/app/x", cookies: bob).status == 200)
        }
    }

    @Test("store down: cached sessions keep working, cache misses get 503, and it recovers by itself")
    func storeOutage() async throws {
        try await Pair.with { pair in
            let (_, cookies) = try await pair.a.signIn("alice")
            #expect(try await pair.a.get("/.portcullis/readyz").status == 200)
            try await pair.postgres.stopServer()
            // Not ready: a load balancer sends new users elsewhere. The public answer names the
            // part, never the database's address.
            let notReady = try await pair.a.get("/.portcullis/readyz")
            #expect(notReady.status == 503)
            #expect(notReady.text.contains("session store unavailable"))
            #expect(!notReady.text.contains("127.0.0.1"))

            // A has the session cached: no database needed.
            #expect(try await pair.a.get("/app/x", cookies: cookies).status == 200)
            // B must ask the store: fail closed, with a clear page, in bounded time.
            let started = Date()
            let missed = try await pair.getB("/app/x", cookies: cookies)
            #expect(missed.status == 503)
            #expect(missed.text.contains("Sessions are unavailable"))
            #expect(Date().timeIntervalSince(started) < 5)
            #expect(pair.audit.lines.contains { $0.contains("event=session.store_unavailable") })
            // A new sign-in cannot be stored either: refused, not half-created.
            let refused = try await pair.a.signIn("bob")
            #expect(refused.callback.status == 503)
            #expect(refused.cookies["portcullis_session"] == nil)

            try await pair.postgres.startServer()
            let recovered = try await Self.within(10) { try await pair.getB("/app/x", cookies: cookies).status == 200 }
            #expect(recovered != nil, "B did not recover after the database came back")
            // A reconnects on its own schedule (it had not needed the store meanwhile).
            let ready = try await Self.within(10) { try await pair.a.get("/.portcullis/readyz").status == 200 }
            #expect(ready != nil, "A was not ready 10 s after the database came back")
        }
    }
}
