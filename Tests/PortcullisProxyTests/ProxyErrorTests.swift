import NIOCore
import NIOHTTP1
import Testing

@Suite("Proxy errors and gateway endpoints (live)")
struct ProxyErrorTests {
    @Test("no route answers a 404 page")
    func noRoute() async throws {
        try await TestGateway.with(routes: #"[{ "name": "a", "pathPrefix": "/app", "upstream": "ECHO", "public": true }]"#) { gateway in
            let client = try await gateway.client()
            let response = try await client.send("/other")
            #expect(response.status == 404)
            #expect(response.text.contains("No application is published"))
            let json = try await client.send("/other", headers: [("Accept", "application/json")])
            #expect(json.status == 404)
            #expect(json.head.headers.first(name: "content-type") == "application/json")
            // The connection stays usable after a local answer.
            #expect(try await client.send("/app/x").status == 200)
            await client.close()
        }
    }

    @Test("path traversal out of a public route is refused, not forwarded")
    func traversal() async throws {
        try await TestGateway.with(routes: #"[{ "name": "pub", "pathPrefix": "/public", "upstream": "ECHO", "public": true }]"#) { gateway in
            for target in ["/public/../admin", "/public/%2e%2e/admin", "/public%2f..%2fadmin", "/public/..%5cadmin"] {
                let answer = try await TestHTTPClient.raw(port: gateway.port, "GET \(target) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                #expect(answer.hasPrefix("HTTP/1.1 400"), "\(target): \(answer.prefix(40))")
            }
            #expect(gateway.echo.acceptedConnections == 0)
        }
    }

    @Test("oversized request headers get 431, malformed requests 400")
    func badRequests() async throws {
        try await TestGateway.with(extra: #", "limits": { "maxHeaderBytes": 4096 }"#) { gateway in
            let big = String(repeating: "a", count: 8000)
            let tooLarge = try await TestHTTPClient.raw(port: gateway.port, "GET / HTTP/1.1\r\nHost: x\r\nCookie: \(big)\r\n\r\n")
            #expect(tooLarge.hasPrefix("HTTP/1.1 431"), "\(tooLarge.prefix(40))")
            let garbage = try await TestHTTPClient.raw(port: gateway.port, "NOT HTTP AT ALL\r\n\r\n")
            #expect(garbage.hasPrefix("HTTP/1.1 400"), "\(garbage.prefix(40))")
            let smuggle = try await TestHTTPClient.raw(
                port: gateway.port, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            #expect(smuggle.hasPrefix("HTTP/1.1 400"), "\(smuggle.prefix(40))")
        }
    }

    @Test("an upstream that is down gives a 502 page")
    func upstreamDown() async throws {
        let port = try refusingPort()
        try await TestGateway.with(routes: #"[{ "name": "down", "upstream": "http://127.0.0.1:\#(port)", "public": true }]"#) { gateway in
            let client = try await gateway.client()
            let response = try await client.send("/x")
            #expect(response.status == 502)
            #expect(response.text.contains("could not be reached"))
            #expect(try await client.send("/y").status == 502)
            await client.close()
        }
    }

    @Test("a slow upstream gives a 504 after the route's response timeout")
    func upstreamSlow() async throws {
        try await TestGateway.with(
            // The tight response timeout on the slow path only: the follow-up request below must
            // not time out too on a machine busy enough to delay any answer past 0.3 s.
            routes: #"""
                [{ "name": "slow", "pathPrefix": "/.echo/slow", "upstream": "ECHO", "public": true, "timeouts": { "response": 0.3, "connect": 20 } },
                 { "name": "app", "upstream": "ECHO", "public": true }]
                """#
        ) { gateway in
            let client = try await gateway.client()
            let started = ContinuousClock.now
            let response = try await client.send("/.echo/slow?ms=10000")
            let elapsed = ContinuousClock.now - started
            // The upstream answers 200 after 10 s: a 504 means the gateway gave up first.
            #expect(response.status == 504)
            // Well before the upstream, though not within 0.3 s on a loaded machine: in a full
            // parallel run (the 1 GiB streaming tests and Chromium on the same 2 cores and the
            // same two event loops) the answer took up to 5.3 s, the connect included (hence
            // its generous timeout here). The response deadline runs on the connection's one
            // timer, whose head and idle deadlines the EmbeddedEventLoop tests check exactly.
            print("slow upstream answered 504 after \(elapsed)")
            #expect(elapsed < .milliseconds(9_500))
            // The timed-out upstream connection is closed, not returned to the pool.
            #expect(await eventually(within: 5) { gateway.echo.openConnections == 0 })
            // The client's connection still serves the next request.
            #expect(try await client.send("/fast").status == 200)
            await client.close()
        }
    }

    @Test("a slow upload is not a slow upstream: the response clock starts when the request is in")
    func slowUpload() async throws {
        // Each pause outlasts the response timeout; the idle timeout is far away, so a loaded
        // machine that oversleeps does not turn the test into an idle-timeout test. The response
        // timeout leaves the echo two seconds to answer once the request is in, for the same reason.
        try await TestGateway.with(
            routes: #"""
                [{ "name": "stall", "upstream": "ECHO", "pathPrefix": "/stall", "public": true, "timeouts": { "response": 2.0, "idle": 1.0 } },
                 { "name": "up", "upstream": "ECHO", "public": true, "timeouts": { "response": 2.0, "idle": 60.0 } }]
                """#
        ) { gateway in
            let client = try await gateway.client()
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: "/upload", headers: ["Host": "x", "Content-Length": "3"])
            head.headers.add(name: "Content-Type", value: "text/plain")
            let slowResponse = client.expectResponse()
            try await client.channel.writeAndFlush(HTTPClientRequestPart.head(head)).get()
            for _ in 0..<3 {
                try await Task.sleep(for: .milliseconds(2_200))
                try await client.channel.writeAndFlush(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: "a")))).get()
            }
            try await client.channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
            let response = try await slowResponse.get()
            #expect(response.status == 200)
            #expect(try response.echoedBodyBytes() == 3)
            await client.close()

            // An upload that stalls past the idle timeout is a 504.
            let stalled = try await gateway.client()
            let stalledResponse = stalled.expectResponse()
            head.uri = "/stall/upload"
            try await stalled.channel.writeAndFlush(HTTPClientRequestPart.head(head)).get()
            let response2 = try await stalledResponse.get()
            #expect(response2.status == 504)
            await stalled.close()
        }
    }

    @Test("a client that disconnects cancels its upstream request")
    func clientDisconnect() async throws {
        try await TestGateway.with { gateway in
            let client = try await gateway.client()
            client.channel.writeAndFlush(
                HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/.echo/slow?ms=10000", headers: ["Host": "x"])),
                promise: nil)
            client.channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
            #expect(await eventually(within: 2) { gateway.echo.openConnections == 1 })
            await client.close()
            // Well inside the 10 s the upstream would otherwise hold the request (margin for a
            // loaded CI machine).
            #expect(await eventually(within: 5) { gateway.echo.openConnections == 0 })
        }
    }

    @Test("healthz and readyz answer; other reserved paths are 404 and never proxied")
    func endpoints() async throws {
        try await TestGateway.with { gateway in
            let client = try await gateway.client()
            let health = try await client.send("/.portcullis/healthz")
            #expect(health.status == 200 && health.text == "ok\n")
            let ready = try await client.send("/.portcullis/readyz")
            #expect(ready.status == 200)
            #expect(try await client.send("/.portcullis/whatever").status == 404)
            #expect(gateway.echo.acceptedConnections == 0)
            await client.close()
        }
    }

    @Test("readyz is 503 while an upstream host does not resolve")
    func notReady() async throws {
        try await TestGateway.with(
            routes: #"[{ "name": "x", "upstream": "http://no-such-host.invalid:80", "public": true }]"#
        ) { gateway in
            let client = try await gateway.client()
            let ready = try await client.send("/.portcullis/readyz")
            #expect(ready.status == 503)
            #expect(ready.text.contains("no-such-host.invalid"))
            await client.close()
        }
    }
}
