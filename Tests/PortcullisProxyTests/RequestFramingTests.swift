import Foundation
import Testing

/// The data plane's framing invariants, live: one host, only WebSocket upgrades, the
/// canonical path routed and forwarded, a head deadline.
@Suite("Strict request framing (live)")
struct RequestFramingTests {
    static let routes = #"""
        [{ "name": "public", "host": "public.test", "pathPrefix": "/", "upstream": "ECHO", "public": true },
         { "name": "admin", "host": "admin.test", "pathPrefix": "/", "upstream": "ECHO", "public": true },
         { "name": "files", "pathPrefix": "/files", "upstream": "ECHO", "public": true, "stripPrefix": true }]
        """#

    @Test("two Host headers are refused with 400, in either order")
    func duplicateHost() async throws {
        try await TestGateway.with(routes: Self.routes) { gateway in
            for (first, second) in [("public.test", "admin.test"), ("admin.test", "public.test")] {
                let answer = try await TestHTTPClient.raw(
                    port: gateway.port, "GET / HTTP/1.1\r\nHost: \(first)\r\nHost: \(second)\r\nConnection: close\r\n\r\n")
                #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer.prefix(80))")
                #expect(answer.contains("more than one Host header"))
            }
            #expect(gateway.echo.acceptedConnections == 0, "nothing reached the upstream")
        }
    }

    @Test("a TRACE with a body is refused with 400 and nothing reaches the upstream: its body cannot become a smuggled request")
    func traceWithBody() async throws {
        try await TestGateway.with(routes: Self.routes) { gateway in
            let inner = "GET /smuggled HTTP/1.1\r\nHost: public.test\r\nX-Forwarded-User: mallory\r\n\r\n"
            for framing in ["Content-Length: \(inner.utf8.count)\r\n\r\n\(inner)", "Transfer-Encoding: chunked\r\n\r\n\(String(inner.utf8.count, radix: 16))\r\n\(inner)\r\n0\r\n\r\n"] {
                let answer = try await TestHTTPClient.raw(
                    port: gateway.port, "TRACE / HTTP/1.1\r\nHost: public.test\r\nConnection: close\r\n\(framing)")
                #expect(answer.hasPrefix("HTTP/1.1 400"), "\(answer.prefix(80))")
                #expect(answer.contains("TRACE request carries no body"))
            }
            #expect(gateway.echo.acceptedConnections == 0, "nothing reached the upstream")
            // A TRACE without a body still goes through.
            let plain = try await TestHTTPClient.raw(port: gateway.port, "TRACE / HTTP/1.1\r\nHost: public.test\r\nConnection: close\r\n\r\n")
            #expect(plain.hasPrefix("HTTP/1.1 200"), "\(plain.prefix(80))")
        }
    }

    @Test("Connection cannot name Content-Length away: the body stays framed, so it cannot become a smuggled request")
    func connectionNamesContentLength() async throws {
        try await TestGateway.with(routes: Self.routes) { gateway in
            let inner = "GET /smuggled HTTP/1.1\r\nHost: public.test\r\nX-Forwarded-User: mallory\r\n\r\n"
            let answer = try await TestHTTPClient.raw(
                port: gateway.port,
                "POST /form HTTP/1.1\r\nHost: public.test\r\nConnection: close, Content-Length\r\nContent-Length: \(inner.utf8.count)\r\n\r\n\(inner)")
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer.prefix(80))")
            // The echo saw one request, with its body counted, and no second one.
            #expect(answer.contains(#""uri":"\/form""#) || answer.contains(#""uri":"/form""#), "\(answer.suffix(400))")
            #expect(answer.contains("\"bodyBytes\":\(inner.utf8.count)"), "\(answer.suffix(400))")
            #expect(answer.components(separatedBy: "HTTP/1.1 200").count == 2, "one answer only: \(answer)")
        }
    }

    @Test("an absolute-form target must agree with Host; when it does, that one host is forwarded")
    func absoluteForm() async throws {
        try await TestGateway.with(routes: Self.routes) { gateway in
            let refused = try await TestHTTPClient.raw(
                port: gateway.port, "GET http://admin.test/x HTTP/1.1\r\nHost: public.test\r\nConnection: close\r\n\r\n")
            #expect(refused.hasPrefix("HTTP/1.1 400"), "\(refused.prefix(80))")
            let client = try await gateway.client()
            let response = try await client.send("http://ADMIN.test/x", headers: [("Host", "admin.test")])
            #expect(response.status == 200)
            #expect(try response.echoedHeader("X-Forwarded-Host") == "admin.test")
            await client.close()
        }
    }

    @Test("Upgrade: h2c is not relayed: the request goes upstream as plain HTTP/1.1 without HTTP2-Settings")
    func h2cStripped() async throws {
        try await TestGateway.with(routes: Self.routes) { gateway in
            let answer = try await TestHTTPClient.raw(
                port: gateway.port,
                "GET /x HTTP/1.1\r\nHost: public.test\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
            #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer.prefix(80))")
            let echoed = answer.lowercased()
            #expect(!echoed.contains("\"upgrade\""), "no Upgrade upstream: \(answer)")
            #expect(!echoed.contains("http2-settings"), "no HTTP2-Settings upstream")
            #expect(answer.contains("Connection: close"), "the connection cannot carry another request after an upgrade request")
        }
    }

    @Test("the path is canonicalized once and forwarded as routed: unreserved escapes decoded, // merged")
    func canonicalPath() async throws {
        try await TestGateway.with(routes: Self.routes) { gateway in
            let client = try await gateway.client()
            let response = try await client.send("//%66iles//a%2Db?q=%2F", headers: [("Host", "other.test")])
            #expect(response.status == 200)
            #expect(try response.echoedURI() == "/a-b?q=%2F", "routed to files (prefix stripped), same path upstream")
            for refused in ["/files/..;/x", "/files/%2e%2e;a/x", "/files/a#b"] {
                #expect(try await client.send(refused, headers: [("Host", "other.test")]).status == 400, "\(refused)")
            }
            await client.close()
        }
    }

    @Test("a client trickling its head is closed at requestHeadTimeout, measured from the first byte")
    func trickledHead() async throws {
        try await TestGateway.with(routes: Self.routes, extra: #", "limits": { "requestHeadTimeout": 1, "clientIdleTimeout": 30 }"#) { gateway in
            let socket = try BlockingSocket(port: gateway.port)
            defer { socket.close() }
            let started = Date()
            try socket.send(Array("GET / HTTP/1.1\r\n".utf8))
            var received: [UInt8] = []
            // One header byte every 100 ms for up to 10 s: never idle, never complete.
            trickle: for _ in 0..<100 {
                try? await Task.sleep(for: .milliseconds(100))
                _ = try? socket.send(Array("X".utf8))
                while true {
                    guard let bytes = socket.receiveAvailable() else { break trickle }
                    if bytes.isEmpty { break }
                    received += bytes
                }
            }
            let closedWith = String(decoding: received, as: UTF8.self)
            let elapsed = Date().timeIntervalSince(started)
            #expect(closedWith.hasPrefix("HTTP/1.1 408"), "\(closedWith.prefix(60))")
            // The upper bound leaves a loaded machine room; without the deadline the loop runs 10 s.
            #expect(elapsed > 0.9 && elapsed < 8, "cut off after \(elapsed) s although bytes kept coming")
        }
    }
}
