import Foundation
import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOHPACK
import NIOHTTP2
import NIOPosix
import PortcullisCore
import PortcullisEcho
@testable import PortcullisProxy
import PortcullisTestSupport
import Testing

/// HTTP/2 through ALPN on the TLS listener, HSTS, and the plain-HTTP listener that only
/// redirects to HTTPS. curl (with nghttp2) is the HTTP/2 client.
@Suite("HTTP/2, HSTS and the HTTPS redirect (live)", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") || ExternalTools.isCI))
struct HTTP2ListenerTests {
    /// A folder with a TLS certificate (`tls.crt`, `tls.key`) for 127.0.0.1; returns its CA file.
    static func folderWithCertificate() throws -> (folder: URL, caFile: String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pc-h2-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let identity = try TLSListenerTests.certificate("portcullis-h2")
        try identity.certificate.write(to: folder.appendingPathComponent("tls.crt"), atomically: true, encoding: .utf8)
        try identity.key.write(to: folder.appendingPathComponent("tls.key"), atomically: true, encoding: .utf8)
        return (folder, folder.appendingPathComponent("tls.crt").path)
    }

    /// curl's answer: response headers (lower-cased names), body, and the HTTP version it used.
    struct CurlAnswer {
        var status: Int32
        var headers: [(String, String)]
        var body: String
        var version: String
        var error: String

        func header(_ name: String) -> [String] { headers.filter { $0.0 == name }.map(\.1) }
    }

    static func curl(_ arguments: [String], caFile: String) async throws -> CurlAnswer {
        let marker = "\n--version:"
        let run = try await ExternalTools.runDetached(["curl", "-sS", "-D", "-", "--cacert", caFile, "-w", marker + "%{http_version}"] + arguments)
        let parts = run.output.components(separatedBy: "\r\n\r\n")
        let headLines = parts.first?.components(separatedBy: "\r\n").dropFirst() ?? []
        let headers = headLines.compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        let rest = parts.dropFirst().joined(separator: "\r\n\r\n")
        let body = rest.components(separatedBy: marker).first ?? ""
        let version = rest.components(separatedBy: marker).last ?? ""
        return CurlAnswer(status: run.status, headers: headers, body: body, version: version, error: run.error)
    }

    @Test("HTTP/2 by ALPN: proxied with the HTTP/1.1 data plane's rules (forged headers stripped, canonical paths, bodies, HEAD); HSTS replaces the upstream's; HTTP/1.1 still offered")
    func http2() async throws {
        let (folder, caFile) = try Self.folderWithCertificate()
        defer { try? FileManager.default.removeItem(at: folder) }
        let echo = try await EchoUpstream.start(port: 0, group: MultiThreadedEventLoopGroup.singleton)
        let canned = try await CannedUpstream.start(
            response: "HTTP/1.1 200 OK\r\nStrict-Transport-Security: max-age=5\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok")
        let config = """
            { "listen": { "port": 0, "tls": { "certificateFile": "tls.crt", "keyFile": "tls.key" } }, "logging": { "accessLog": true },
              "routes": [
                { "name": "canned", "pathPrefix": "/canned", "upstream": "http://127.0.0.1:\(canned.port)", "public": true },
                { "name": "app", "upstream": "http://127.0.0.1:\(echo.port)", "public": true } ] }
            """
        let accessLogPath = folder.appendingPathComponent("access.log").path
        let accessLog = try LineSink.appending(toFile: accessLogPath)
        let live = try await LiveGateway.start(try GatewayConfig.load(Data(config.utf8), baseDirectory: folder), accessLogSink: accessLog)
        let base = "https://127.0.0.1:\(live.port)"
        try await scoped((), stop: { _ in
            await live.stop()
            await echo.close()
            await canned.close()
        }) { _ in
            let answer = try await Self.curl(["--http2", "-H", "X-Forwarded-User: mallory", base + "/x?q=1"], caFile: caFile)
            #expect(answer.status == 0, "\(answer.error)")
            #expect(answer.version == "2", "negotiated \(answer.version)")
            #expect(answer.body.contains(#""uri":"\/x?q=1""#) || answer.body.contains(#""uri":"/x?q=1""#), "\(answer.body.prefix(300))")
            #expect(answer.body.contains(#"["X-Forwarded-Proto","https"]"#), "\(answer.body.prefix(400))")
            #expect(!answer.body.contains("mallory"), "a forged identity header reached the upstream over HTTP/2")
            #expect(answer.header("strict-transport-security") == ["max-age=31536000"])
            #expect(answer.header("connection").isEmpty && answer.header("transfer-encoding").isEmpty, "HTTP/1.1 connection fields on HTTP/2: \(answer.headers)")

            // A body, and two requests on one connection.
            let posted = try await Self.curl(["--http2", "--data-binary", "hello", base + "/post", base + "/second"], caFile: caFile)
            #expect(posted.status == 0, "\(posted.error)")
            #expect(posted.body.contains(#""bodyBytes":5"#), "\(posted.body.prefix(400))")

            // Streams share the loop's upstream pool: ten requests on one connection reuse
            // pooled upstream connections instead of opening one each (an ended stream is no
            // client gone away).
            let acceptedBefore = echo.acceptedConnections
            let many = try await Self.curl(["--http2"] + (0..<10).map { base + "/many/\($0)" }, caFile: caFile)
            #expect(many.status == 0, "\(many.error)")
            let opened = echo.acceptedConnections - acceptedBefore
            #expect(opened <= 2, "\(opened) upstream connections for 10 sequential HTTP/2 requests")
            // HEAD: a head and no body.
            let head = try await Self.curl(["--http2", "-I", base + "/x"], caFile: caFile)
            #expect(head.status == 0 && head.version == "2", "\(head.error)")

            // The gateway's HSTS replaces the upstream's, once.
            let replaced = try await Self.curl(["--http2", base + "/canned"], caFile: caFile)
            #expect(replaced.body == "ok")
            #expect(replaced.header("strict-transport-security") == ["max-age=31536000"], "\(replaced.headers)")

            // The same canonical-path rule as HTTP/1.1: an encoded dot segment is refused.
            let dots = try await Self.curl(["--http2", "--path-as-is", base + "/public/%2e%2e/x"], caFile: caFile)
            #expect(dots.headers.isEmpty == false)
            #expect(dots.body.contains("Bad request") || dots.body.contains("400"), "\(dots.body.prefix(300))")

            // HTTP/1.1 clients still get HTTP/1.1.
            let old = try await Self.curl(["--http1.1", base + "/x"], caFile: caFile)
            #expect(old.status == 0 && old.version == "1.1", "\(old.version) \(old.error)")

            // The access log names each request's protocol.
            accessLog.flush()
            let lines = try String(contentsOfFile: accessLogPath, encoding: .utf8).split(separator: "\n")
            #expect(lines.contains { $0.contains("GET /x HTTP/2 route=app status=200") }, "\(lines)")
            #expect(lines.contains { $0.contains("GET /x HTTP/1.1 route=app status=200") }, "\(lines)")
            #expect(lines.contains { $0.contains("POST /post HTTP/2 route=app status=200") }, "\(lines)")
        }
    }

    @Test("a real browser signs in over HTTPS and HTTP/2 (the dev IdP), and the signed-in request is proxied over HTTP/2 with its identity",
          .enabled(if: ExternalTools.hasBrowser || ExternalTools.isCI))
    func browserSignInOverHTTP2() async throws {
        let (folder, _) = try Self.folderWithCertificate()
        defer { try? FileManager.default.removeItem(at: folder) }
        let tls = SignInHarness.TLSFiles(
            certificateFile: folder.appendingPathComponent("tls.crt").path, keyFile: folder.appendingPathComponent("tls.key").path)
        try await SignInHarness.with(tls: tls) { harness in
            #expect(harness.origin.hasPrefix("https://"))
            let result = try await ExternalTools.browserLogin(
                start: harness.origin + "/app/h2?x=1", idp: "devidp", user: "alice", then: [harness.origin + "/app/again"], insecureTLS: true)
            #expect(result["status"] as? String == "ok", "\(result)")
            #expect(result["finalURL"] as? String == harness.origin + "/app/h2?x=1")
            #expect(result["protocol"] as? String == "h2", "\(result["protocol"] ?? "none")")
            let headers = InteropTests.headers(result["page"])
            #expect(headers["x-forwarded-user"] == "alice@contoso.example")
            #expect(headers["x-forwarded-proto"] == "https")
            #expect(headers["cookie"] == nil, "the session cookie reached the upstream")
            let then = (result["then"] as? [[String: Any]])?.first
            #expect(then?["protocol"] as? String == "h2")
            #expect(InteropTests.headers(then?["page"])["x-forwarded-user"] == "alice@contoso.example")
        }
    }

    @Test("curl signs in over HTTPS and HTTP/2 (dev IdP), and its signed-in request is proxied over HTTP/2 with alice's identity")
    func curlSignInOverHTTP2() async throws {
        let (folder, caFile) = try Self.folderWithCertificate()
        defer { try? FileManager.default.removeItem(at: folder) }
        let tls = SignInHarness.TLSFiles(
            certificateFile: folder.appendingPathComponent("tls.crt").path, keyFile: folder.appendingPathComponent("tls.key").path)
        let jar = folder.appendingPathComponent("cookies.txt").path
        try await SignInHarness.with(tls: tls) { harness in
            let common = ["curl", "-sS", "-L", "--http2", "--cacert", caFile, "-c", jar, "-b", jar, "-H", "Accept: text/html"]
            // The protected page sends the browser to the IdP: its user picker.
            let picker = try await ExternalTools.runDetached(common + [harness.origin + "/app/h2?x=1"])
            #expect(picker.status == 0, "\(picker.error)")
            let link = try #require(Self.href(ofID: "user-alice", in: picker.output), "no picker link in \(picker.output.prefix(300))")
            // Picking alice: the IdP redirects to the callback, the gateway sets the session and
            // sends the browser back to the page it asked for.
            let signedIn = try await ExternalTools.runDetached(common + ["-w", "\n%{http_version} %{url_effective}", link])
            #expect(signedIn.status == 0, "\(signedIn.error)")
            let lines = signedIn.output.split(separator: "\n")
            #expect(lines.last == "2 \(harness.origin)/app/h2?x=1", "\(lines.last ?? "")")
            let page = lines.dropLast().joined(separator: "\n")
            #expect(InteropTests.headers(try JSONSerialization.jsonObject(with: Data(page.utf8)))["x-forwarded-user"] == "alice@contoso.example", "\(page.prefix(300))")
            // The jar's session cookie keeps working over HTTP/2.
            let again = try await ExternalTools.runDetached(common + ["-w", "\n%{http_version}", harness.origin + "/app/again"])
            #expect(again.output.hasSuffix("\n2") && again.output.contains("alice@contoso.example"), "\(again.output.prefix(300))")
        }
    }

    /// The `href` of the element with `id` in an HTML page, unescaped.
    static func href(ofID id: String, in html: String) -> String? {
        guard let start = html.range(of: "id=\"\(id)\" href=\"") else { return nil }
        let rest = html[start.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end]).replacingOccurrences(of: "&amp;", with: "&").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
    }

    @Test("a drain during an HTTP/2 request: the stream finishes, then the connection closes (GOAWAY) and the drain completes in time")
    func drainHTTP2() async throws {
        let (folder, caFile) = try Self.folderWithCertificate()
        defer { try? FileManager.default.removeItem(at: folder) }
        let echo = try await EchoUpstream.start(port: 0, group: MultiThreadedEventLoopGroup.singleton)
        let config = """
            { "listen": { "port": 0, "tls": { "certificateFile": "tls.crt", "keyFile": "tls.key" } }, "logging": { "accessLog": false },
              "routes": [{ "name": "app", "upstream": "http://127.0.0.1:\(echo.port)", "public": true }] }
            """
        let live = try await LiveGateway.start(try GatewayConfig.load(Data(config.utf8), baseDirectory: folder))
        let slow = Task { try await Self.curl(["--http2", "https://127.0.0.1:\(live.port)/.echo/slow?ms=1500"], caFile: caFile) }
        // Wait until the request is in (the connection counted), then drain.
        for _ in 0..<100 where live.server.openConnections == 0 { try await Task.sleep(for: .milliseconds(20)) }
        try await Task.sleep(for: .milliseconds(200))
        let finished = await live.gateway.drain(timeout: .seconds(20))
        let answer = try await slow.value
        await live.stop()
        await echo.close()
        #expect(finished, "the HTTP/2 connection did not close after its stream finished")
        #expect(answer.status == 0 && answer.version == "2", "\(answer.error)")
        #expect(answer.body.contains("slow") || answer.body.contains("uri"), "\(answer.body.prefix(200))")
    }

    @Test("listen.tls.http2 false: ALPN offers HTTP/1.1 only; hsts maxAge 0: no HSTS field")
    func http2Off() async throws {
        let (folder, caFile) = try Self.folderWithCertificate()
        defer { try? FileManager.default.removeItem(at: folder) }
        let echo = try await EchoUpstream.start(port: 0, group: MultiThreadedEventLoopGroup.singleton)
        let config = """
            { "listen": { "port": 0, "tls": { "certificateFile": "tls.crt", "keyFile": "tls.key", "http2": false }, "hsts": { "maxAge": 0 } },
              "logging": { "accessLog": false }, "routes": [{ "name": "app", "upstream": "http://127.0.0.1:\(echo.port)", "public": true }] }
            """
        let live = try await LiveGateway.start(try GatewayConfig.load(Data(config.utf8), baseDirectory: folder))
        let answer = try? await Self.curl(["--http2", "https://127.0.0.1:\(live.port)/x"], caFile: caFile)
        await live.stop()
        await echo.close()
        #expect(answer?.status == 0, "\(answer?.error ?? "")")
        #expect(answer?.version == "1.1")
        #expect(answer?.header("strict-transport-security").isEmpty == true)
    }

    @Test("listen.httpRedirect: 301 to the same path on HTTPS (308 keeps a POST), only for hosts a route serves; a second Host is 400")
    func redirectListener() async throws {
        let (folder, _) = try Self.folderWithCertificate()
        defer { try? FileManager.default.removeItem(at: folder) }
        let echo = try await EchoUpstream.start(port: 0, group: MultiThreadedEventLoopGroup.singleton)
        let httpsPort = try freeLoopbackPort()
        let config = """
            { "listen": { "port": \(httpsPort), "tls": { "certificateFile": "tls.crt", "keyFile": "tls.key" },
                          "httpRedirect": { "address": "127.0.0.1", "port": 0 } },
              "logging": { "accessLog": false },
              "routes": [{ "name": "app", "host": "apps.test", "upstream": "http://127.0.0.1:\(echo.port)", "public": true }] }
            """
        let live = try await LiveGateway.start(try GatewayConfig.load(Data(config.utf8), baseDirectory: folder))
        try await scoped((), stop: { _ in
            await live.stop()
            await echo.close()
        }) { _ in
            let port = try #require(live.gateway.redirectListener?.localAddress.port)
            let get = try await TestHTTPClient.with(port: port) { try await $0.send("/a/b?c=1", headers: [("Host", "apps.test")]) }
            #expect(get.status == 301)
            #expect(get.head.headers["location"] == ["https://apps.test:\(httpsPort)/a/b?c=1"])
            let post = try await TestHTTPClient.with(port: port) { try await $0.send("/form", method: .POST, headers: [("Host", "apps.test:80")], body: "x=1") }
            #expect(post.status == 308)
            #expect(post.head.headers["location"] == ["https://apps.test:\(httpsPort)/form"])
            let stranger = try await TestHTTPClient.with(port: port) { try await $0.send("/", headers: [("Host", "evil.example")]) }
            #expect(stranger.status == 404)
            #expect(stranger.head.headers["location"].isEmpty)
            let twoHosts = try await TestHTTPClient.with(port: port) {
                try await $0.send("/", headers: [("Host", "apps.test"), ("Host", "evil.example")])
            }
            #expect(twoHosts.status == 400)
        }
    }
}

@Suite("HTTP/2 stream adapter")
struct HTTP2StreamAdapterTests {
    static func adapter() throws -> (EmbeddedChannel, HTTP2StreamAdapter) {
        let config = try GatewayConfig.load(Data(#"{ "routes": [{ "name": "app", "upstream": "http://127.0.0.1:9", "public": true }] }"#.utf8))
        let adapter = HTTP2StreamAdapter(hopByHop: HeaderRules(identityHeaders: config.identityHeaders))
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(adapter)
        return (channel, adapter)
    }

    static func request(_ fields: [(String, String)], endStream: Bool) -> HTTP2Frame.FramePayload {
        .headers(.init(headers: HPACKHeaders([(":method", "GET"), (":scheme", "https"), (":path", "/x")] + fields), endStream: endStream))
    }

    @Test("the request reaches the data plane as HTTP/1.1: :authority as Host, split cookies joined; a chunked HTTP/1.1 answer leaves as HEADERS and DATA, END_STREAM on the last frame, no hop-by-hop fields")
    func requestAndResponse() throws {
        let (channel, _) = try Self.adapter()
        try channel.writeInbound(Self.request([(":authority", "apps.test"), ("cookie", "a=1"), ("cookie", "b=2")], endStream: true))
        guard case .head(let seen) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("no head")
            return
        }
        #expect(seen.version == .http1_1)
        #expect(seen.uri == "/x")
        #expect(seen.headers["host"] == ["apps.test"])
        #expect(seen.headers["cookie"] == ["a=1; b=2"])
        #expect(seen.headers["transfer-encoding"].isEmpty, "a GET whose HEADERS end the stream has no body")
        guard case .end = try channel.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("no end")
            return
        }

        // A response written in pieces, as the handler may: head, then a chunk, then the end.
        try channel.writeOutbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\nX-App: 1\r\n"))
        #expect(try channel.readOutbound(as: HTTP2Frame.FramePayload.self) == nil)
        try channel.writeOutbound(ByteBuffer(string: "\r\n5\r\nhello\r\n"))
        guard case .headers(let head) = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) else {
            Issue.record("no HEADERS")
            return
        }
        #expect(head.headers.first(name: ":status") == "200")
        #expect(head.headers.first(name: "x-app") == "1")
        #expect(head.headers["connection"].isEmpty && head.headers["transfer-encoding"].isEmpty)
        #expect(!head.endStream)
        guard case .data(let body) = try channel.readOutbound(as: HTTP2Frame.FramePayload.self), case .byteBuffer(let bytes) = body.data else {
            Issue.record("no DATA")
            return
        }
        #expect(String(buffer: bytes) == "hello" && !body.endStream)
        try channel.writeOutbound(ByteBuffer(string: "0\r\n\r\n"))
        guard case .data(let end) = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) else {
            Issue.record("no end")
            return
        }
        #expect(end.endStream)
        _ = try channel.finish()
    }

    @Test("a body that ends in the write carrying it ends the stream on its own DATA frame")
    func endStreamOnLastData() throws {
        let (channel, _) = try Self.adapter()
        try channel.writeInbound(Self.request([(":authority", "apps.test")], endStream: true))
        try channel.writeOutbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        guard case .headers = try channel.readOutbound(as: HTTP2Frame.FramePayload.self),
            case .data(let body) = try channel.readOutbound(as: HTTP2Frame.FramePayload.self)
        else {
            Issue.record("no HEADERS and DATA")
            return
        }
        #expect(body.endStream)
        #expect(try channel.readOutbound(as: HTTP2Frame.FramePayload.self) == nil, "no empty DATA frame after it")
        _ = try channel.finish()
    }

    @Test("a request whose HEADERS leave the stream open gets chunked framing whatever its method, so its DATA can never reach the upstream unframed")
    func openStreamIsChunked() throws {
        let (channel, _) = try Self.adapter()
        try channel.writeInbound(Self.request([(":authority", "apps.test")], endStream: false))
        guard case .head(let head) = try channel.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("no head")
            return
        }
        #expect(head.method == .GET)
        #expect(head.headers["transfer-encoding"] == ["chunked"])
        try channel.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(string: "GET /smuggled HTTP/1.1\r\n\r\n")), endStream: true)))
        guard case .body = try channel.readInbound(as: HTTPServerRequestPart.self), case .end = try channel.readInbound(as: HTTPServerRequestPart.self) else {
            Issue.record("no body and end")
            return
        }
        _ = try channel.finish()
    }

    @Test("a method that is not a token (it goes into the upstream's request line) is refused")
    func methodIsToken() {
        for (method, valid) in [("GET", true), ("PROPFIND", true), ("G(ET", false), ("GET/x", false), ("", false)] {
            let block = HPACKHeaders([(":method", method), (":scheme", "https"), (":path", "/"), (":authority", "apps.test")])
            #expect((HTTP2StreamAdapter.requestHead(block, endStream: true) != nil) == valid, "\(method)")
        }
    }

    @Test("a host field must name the :authority (once); without one, :authority alone stands", arguments: [
        ([(":authority", "apps.test"), ("host", "apps.test")], true),
        ([(":authority", "apps.test"), ("host", "APPS.test")], true),
        ([(":authority", "apps.test")], true),
        ([("host", "apps.test")], true),
        ([(":authority", "apps.test"), ("host", "admin.test")], false),
        ([(":authority", "apps.test"), ("host", "apps.test"), ("host", "admin.test")], false),
    ])
    func hostAgreesWithAuthority(fields: [(String, String)], expected: Bool) {
        let block = HPACKHeaders([(":method", "GET"), (":scheme", "https"), (":path", "/")] + fields)
        #expect((HTTP2StreamAdapter.requestHead(block, endStream: true) != nil) == expected)
    }
}

