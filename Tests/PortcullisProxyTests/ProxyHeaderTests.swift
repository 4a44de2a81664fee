import NIOHTTP1
import Testing

/// Security invariant 1 (docs/architecture.md): no identity header from a client ever reaches an upstream.
@Suite("Proxy header hygiene (live)")
struct ProxyHeaderTests {
    static let forged: [(String, String)] = [
        ("X-Forwarded-User", "mallory"), ("x-forwarded-user", "mallory2"), ("X_Forwarded_User", "mallory3"),
        ("x_FORWARDED-user", "mallory4"), ("X-Forwarded-Email", "m@evil"), ("X-Forwarded-Name", "Mallory"),
        ("X-Forwarded-Roles", "Admin"), ("X-Forwarded-Groups", "g"), ("X-Forwarded-Permissions", "all"),
        ("X-Auth-Method", "sso"), ("X_Auth_Method", "sso"), ("X-Portcullis-Assertion", "eyJ"),
        ("Remote-User", "root"), ("REMOTE_USER", "root"), ("X-Forwarded-Proto", "gopher"),
        ("X-Forwarded-Host", "evil.example"), ("X_Forwarded_Port", "1"),
    ]

    @Test("forged identity headers are stripped on a public route, in every spelling")
    func identityHeadersStripped() async throws {
        try await TestGateway.with(extra: #", "identityHeaders": { "alsoStrip": ["Remote-User"] }"#) { gateway in
            let client = try await gateway.client()
            let response = try await client.send("/hello", headers: Self.forged + [("X-Custom", "kept")])
            #expect(response.status == 200)
            let seen = try response.echoedHeaders()
            let values = seen.map(\.1)
            for (name, value) in Self.forged where value != "gopher" && value != "evil.example" && value != "1" {
                #expect(!values.contains(value), "\(name): \(value) reached the upstream")
            }
            #expect(seen.contains { $0 == ("X-Custom", "kept") })
            #expect(seen.filter { $0.0.lowercased() == "x-forwarded-proto" }.map(\.1) == ["http"])
            #expect(seen.filter { $0.0.lowercased() == "x-forwarded-host" }.map(\.1) == ["gateway.test"])
            #expect(!seen.contains { $0.0.lowercased().replacingOccurrences(of: "_", with: "-") == "x-forwarded-user" })
            await client.close()
        }
    }

    @Test("X-Forwarded-For is appended, Host is the upstream's unless preserved")
    func forwardingHeaders() async throws {
        try await TestGateway.with(
            routes: #"""
                [{ "name": "a", "upstream": "ECHO", "public": true },
                 { "name": "b", "pathPrefix": "/keep", "upstream": "ECHO", "public": true, "preserveHost": true }]
                """#
        ) { gateway in
            let client = try await gateway.client()
            let plain = try await client.send("/x", headers: [("X-Forwarded-For", "203.0.113.9")]).echoedHeaders()
            #expect(plain.first { $0.0 == "X-Forwarded-For" }?.1 == "203.0.113.9, 127.0.0.1")
            #expect(plain.first { $0.0 == "Host" }?.1 == "127.0.0.1:\(gateway.echo.port)")
            let kept = try await client.send("/keep/x", headers: [("Host", "apps.contoso.test")]).echoedHeaders()
            #expect(kept.first { $0.0 == "Host" }?.1 == "apps.contoso.test")
            #expect(kept.first { $0.0 == "X-Forwarded-For" }?.1 == "127.0.0.1")
            await client.close()
        }
    }

    @Test("hop-by-hop headers and those Connection names are removed both ways")
    func hopByHop() async throws {
        try await TestGateway.with { gateway in
            let client = try await gateway.client()
            let response = try await client.send(
                "/x?respond-header=Keep-Alive:timeout%3D5&respond-header=X-Hop:1&respond-header=Connection:X-Hop&respond-header=Proxy-Authenticate:Basic&respond-header=X-End:2",
                headers: [
                    ("Connection", "keep-alive, X-Secret-Hop"), ("Keep-Alive", "timeout=5"), ("X-Secret-Hop", "1"), ("TE", "trailers"),
                    ("Proxy-Authorization", "Basic Zm9v"), ("Upgrade", "h2c"), ("Trailer", "X"), ("X-End", "kept"),
                ])
            let seen = try response.echoedHeaders().map { $0.0.lowercased() }
            for name in ["keep-alive", "x-secret-hop", "te", "proxy-authorization", "upgrade", "trailer"] {
                #expect(!seen.contains(name), "\(name) was forwarded")
            }
            #expect(seen.contains("x-end"))
            #expect(!seen.contains("connection"))
            // Response side: the upstream's hop-by-hop fields stop at the gateway.
            #expect(response.head.headers["keep-alive"].isEmpty)
            #expect(response.head.headers["x-hop"].isEmpty)
            #expect(response.head.headers["proxy-authenticate"].isEmpty)
            #expect(response.head.headers["x-end"] == ["2"])
            await client.close()
        }
    }

    @Test("Expect: 100-continue is answered by the gateway, and the body then flows upstream")
    func expectContinue() async throws {
        try await TestGateway.with { gateway in
            let socket = try BlockingSocket(port: gateway.port)
            defer { socket.close() }
            try socket.send(Array("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n".utf8))
            let interim = String(decoding: try socket.receive(until: { String(decoding: $0, as: UTF8.self).contains("\r\n\r\n") }), as: UTF8.self)
            #expect(interim.hasPrefix("HTTP/1.1 100 Continue"), "\(interim)")
            try socket.send(Array("hello".utf8))
            let final = String(decoding: try socket.receive(until: { String(decoding: $0, as: UTF8.self).contains("}") }), as: UTF8.self)
            #expect(final.contains("HTTP/1.1 200"))
            #expect(final.contains(#""bodyBytes":5"#))
            #expect(!final.lowercased().contains(#"["expect""#), "Expect must not be forwarded")
        }
    }

    @Test("stripPrefix and an upstream base path rewrite the forwarded path")
    func pathRewrite() async throws {
        try await TestGateway.with(
            routes: #"[{ "name": "legacy", "pathPrefix": "/repairs", "stripPrefix": true, "upstream": "ECHO/legacy", "public": true }]"#
        ) { gateway in
            let client = try await gateway.client()
            struct Echo: Decodable { var uri: String }
            let response = try await client.send("/repairs/jobs?id=7")
            #expect(response.text.contains(#""uri":"/legacy/jobs?id=7""#))
            let root = try await client.send("/repairs")
            #expect(root.text.contains(#""uri":"/legacy/""#))
            await client.close()
        }
    }
}
