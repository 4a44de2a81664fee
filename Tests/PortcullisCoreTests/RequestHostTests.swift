import Testing

@testable import PortcullisCore

@Suite("Request host")
struct RequestHostTests {
    /// What ``RequestHost/resolve(hostValues:absoluteAuthority:httpMinorVersion:)`` should give.
    enum Outcome: Sendable, Equatable {
        case host(String?)
        case refused(String)
    }

    static let missing = Outcome.refused("missing Host header")
    static let twice = Outcome.refused("more than one Host header")
    static let invalid = Outcome.refused("invalid Host header")
    static let differs = Outcome.refused("request target authority differs from Host header")
    static let badAuthority = Outcome.refused("invalid authority in request target")

    @Test(
        "one well-formed Host, agreeing with an absolute-form authority, or refusal",
        arguments: [
            // Well-formed values, used as sent.
            (["app.contoso.org"], nil, 1, .host("app.contoso.org")),
            (["App.Contoso.org:8443"], nil, 1, .host("App.Contoso.org:8443")),
            (["app.contoso.org."], nil, 1, .host("app.contoso.org.")),
            (["10.0.0.5:80"], nil, 1, .host("10.0.0.5:80")),
            (["[::1]:8080"], nil, 1, .host("[::1]:8080")),
            (["[2001:db8::1]"], nil, 1, .host("[2001:db8::1]")),
            (["[::ffff:192.0.2.1]"], nil, 1, .host("[::ffff:192.0.2.1]")),
            (["[1:2:3:4:5:6:7:8]"], nil, 1, .host("[1:2:3:4:5:6:7:8]")),
            (["my_host~1:0"], nil, 1, .host("my_host~1:0")),
            // Missing: an error in HTTP/1.1, allowed in HTTP/1.0.
            ([], nil, 1, missing),
            ([], "app.example", 1, missing),
            ([], nil, 0, .host(nil)),
            ([], "app.example", 0, .host("app.example")),
            // More than one, even when equal.
            (["a.example", "b.example"], nil, 1, twice),
            (["a.example", "a.example"], nil, 1, twice),
            (["a.example", "a.example"], nil, 0, twice),
            // Not `uri-host [":" port]`.
            ([""], nil, 1, invalid),
            (["a b"], nil, 1, invalid),
            ([" app.example"], nil, 1, invalid),
            (["a/b"], nil, 1, invalid),
            (["user@a.example"], nil, 1, invalid),
            (["a\\b"], nil, 1, invalid),
            (["a.example,b.example"], nil, 1, invalid),
            (["a.example:"], nil, 1, invalid),
            ([":80"], nil, 1, invalid),
            (["a.example:123456"], nil, 1, invalid),
            (["a.example:8x"], nil, 1, invalid),
            (["a.example:80:80"], nil, 1, invalid),
            (["a%2eexample"], nil, 1, invalid),
            (["::1"], nil, 1, invalid),
            (["[::1"], nil, 1, invalid),
            (["[::1]x"], nil, 1, invalid),
            (["[1:2:3:4:5:6:7:8:9]"], nil, 1, invalid),
            (["[1::2::3]"], nil, 1, invalid),
            (["[12345::]"], nil, 1, invalid),
            (["[fe80::1%25eth0]"], nil, 1, invalid),
            (["[::256.0.0.1]"], nil, 1, invalid),
            (["[]"], nil, 1, invalid),
            // Absolute form: the authority must be the Host value, letter case aside.
            (["app.example"], "APP.example", 1, .host("app.example")),
            (["app.example:8080"], "app.example:8080", 1, .host("app.example:8080")),
            (["app.example"], "evil.example", 1, differs),
            (["app.example"], "app.example:80", 1, differs),
            (["app.example"], "a@app.example", 1, badAuthority),
            (["app.example"], "", 1, badAuthority),
            (["bad host"], "bad host", 1, badAuthority),
        ] as [([String], Substring?, Int, Outcome)])
    func resolve(hostValues: [String], authority: Substring?, minor: Int, expected: Outcome) {
        let outcome: Outcome =
            switch RequestHost.resolve(hostValues: hostValues, absoluteAuthority: authority, httpMinorVersion: minor) {
            case .success(let host): .host(host)
            case .failure(let rejection): .refused(rejection.reason)
            }
        #expect(outcome == expected)
    }

    @Test("an absolute-form target's authority is checked against Host as parsed")
    func withParsedTarget() throws {
        let target = try RequestTarget.parse("http://App.Example:8080/a").get()
        let agreeing = RequestHost.resolve(hostValues: ["app.example:8080"], absoluteAuthority: target.authority, httpMinorVersion: 1)
        #expect(agreeing == .success("app.example:8080"))
        let other = RequestHost.resolve(hostValues: ["intranet.example"], absoluteAuthority: target.authority, httpMinorVersion: 1)
        #expect(other == .failure(RequestTarget.Rejection(reason: "request target authority differs from Host header")))
    }
}

@Suite("HTTPS redirect")
struct HTTPSRedirectTests {
    static let routes = RouteTable(routes: try! loadConfig(#"{ "routes": [{ "name": "a", "host": "apps.test", "upstream": "http://127.0.0.1:9", "public": true }] }"#).routes)

    @Test("the same host, path and query on HTTPS; 308 keeps a method with a body; a port is dropped and the HTTPS one used", arguments: [
        ("GET", "/x?y=1", ["apps.test"], 443, HTTPSRedirect.Answer.redirect(status: 301, location: "https://apps.test/x?y=1")),
        ("HEAD", "/", ["apps.test:80"], 8443, .redirect(status: 301, location: "https://apps.test:8443/")),
        ("POST", "/form", ["APPS.test"], 443, .redirect(status: 308, location: "https://APPS.test/form")),
        ("GET", "/", ["evil.example"], 443, .notFound),
        ("GET", "/", ["apps.test", "apps.test"], 443, .badRequest(reason: "more than one Host header")),
        ("GET", "/a/%2e%2e/b", ["apps.test"], 443, .badRequest(reason: "dot segment in path")),
        ("GET", "http://evil.example/", ["apps.test"], 443, .badRequest(reason: "request target authority differs from Host header")),
        ("GET", "/", ["apps.test/evil"], 443, .badRequest(reason: "invalid Host header")),
    ])
    func answers(method: String, uri: String, hosts: [String], port: Int, expected: HTTPSRedirect.Answer) {
        let redirect = HTTPSRedirect(routes: Self.routes, httpsPort: port)
        #expect(redirect.answer(method: method, uri: uri, hostValues: hosts, httpMinorVersion: 1) == expected)
    }

    @Test("HSTS: on by default with TLS, off with maxAge 0; preload needs a year and subdomains; httpRedirect needs TLS")
    func hstsAndRedirectConfig() throws {
        #expect(HSTSConfig.standard.value == "max-age=31536000")
        let plain = try loadConfig(#"{ "routes": [\#(minimalRoute)] }"#)
        #expect(plain.listen.hsts == nil)
        let explicit = try loadConfig(#"{ "listen": { "hsts": { "maxAge": 63072000, "includeSubDomains": true, "preload": true } }, "routes": [\#(minimalRoute)] }"#)
        #expect(explicit.listen.hsts?.value == "max-age=63072000; includeSubDomains; preload")
        #expect(throws: ConfigError.self) { try loadConfig(#"{ "listen": { "hsts": { "preload": true } }, "routes": [\#(minimalRoute)] }"#) }
        let problems = issues(#"{ "listen": { "httpRedirect": { "port": 80 } }, "routes": [\#(minimalRoute)] }"#)
        #expect(problems.contains { $0.hasPrefix("listen.httpRedirect:") }, "\(problems)")
    }
}
