import Testing

@testable import PortcullisCore

/// A gateway at https://gateway.example.com that may also send users to two sibling apps.
private func makeGuard(
    publicURL: String = "https://gateway.example.com", allowed: [String] = ["app.example.com", "wiki.example.com:8443"]
) throws -> RedirectGuard {
    try RedirectGuard(
        publicURL: HTTPURL.parse(publicURL).get(),
        allowedHosts: allowed.map { try RedirectGuard.AllowedHost.parse($0).get() })
}

@Suite("Redirect guard")
struct RedirectGuardTests {
    let redirectGuard: RedirectGuard

    init() throws {
        redirectGuard = try makeGuard()
    }

    @Test(
        "same-origin paths and allowed absolute URLs pass unchanged",
        arguments: [
            "/", "/app", "/app/x?y=1#z", "/app/x/", "/?", "/#", "/#/route/inside/spa", "/a?next=/b", "/a?next=//evil.com",
            "/a?next=https://evil.com", "/a#//evil.com", "/a/../b", "/./x", "/a/./b/../c", "/..", "/a/..", "/%41%62",
            "/files/My%20Doc.pdf", "/search?q=a+b&r=%2F", "/search?q=100%25", "/a%2Fb", "/a/%2F%2Fb", "/wiki/Stra%C3%9Fe",
            "/a?x=%25252F", "/a;b=c", "/~user/", "/a?q=%E9", "/100%", "/a@b", "/a:b", "/javascript:alert(1)",
            "https://gateway.example.com", "https://gateway.example.com/", "https://gateway.example.com/app?x=1#y",
            "https://gateway.example.com:443/app", "HTTPS://Gateway.Example.COM/app", "https://app.example.com/dash",
            "https://APP.example.com", "https://app.example.com:443/", "https://app.example.com?x=1", "https://app.example.com#f",
            "https://wiki.example.com:8443/page", "https://gateway.example.com//evil.com", "https://app.example.com/%2F%2Fx",
        ])
    func accepted(value: String) {
        #expect(redirectGuard.validate(value) == value)
    }

    /// Each of these either leaves the allowed origins in some browser or decoder, or could
    /// run script; all must fall back to `/`.
    @Test(
        "hostile return URLs are refused",
        arguments: [
            // Empty, relative, too long.
            "", "app/x", "?x=1", "#frag", ".", "..", "../x", "./x", "evil.com", "gateway.example.com/app",
            "/" + String(repeating: "a", count: RedirectGuard.maximumLength),
            // Scheme-relative and backslash starts.
            "//evil.com", "///evil.com", "////evil.com", "/\\evil.com", "\\/evil.com", "/\\/evil.com", "\\\\evil.com",
            "\\evil.com", "//gateway.example.com/app",
            // Other schemes and scheme tricks.
            "javascript:alert(1)", "JaVaScRiPt:alert(1)", "javascript://%0aalert(1)", "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)", "file:///etc/passwd", "ftp://app.example.com/", "ws://app.example.com/",
            "https:evil.com", "http:evil.com", "https:/evil.com", "http:/evil.com", "https:///evil.com", "https:\\\\evil.com",
            "https://", "http:", "https//evil.com", "https:/\\evil.com",
            // Hosts that only look allowed.
            "https://evil.com", "https://good.com", "https://gateway.example.com.evil.com/", "https://evilgateway.example.com/",
            "https://gateway.example.com:443.evil.com/", "https://gateway.example.com.", "https://app.example.com.evil.com",
            "https://xn--gteway-6ra.example.com/", "https://gatеway.example.com/", "https://example.com/",
            "https://gateway.example.com:8443/", "https://app.example.com:8443/", "https://wiki.example.com/page",
            "https://gateway.example.com:/", "https://gateway.example.com:0/", "https://gateway.example.com:99999/",
            "https://gateway.example.com:44a/", "https://gateway.example.com%2eevil.com/", "https://[::1]/",
            "https://gateway.example.com%00.evil.com", "https://*.example.com/",
            // Downgrade to plain http.
            "http://gateway.example.com/", "http://app.example.com/", "http://wiki.example.com:8443/",
            // Credentials and authority confusion.
            "https://gateway.example.com@evil.com", "https://gateway.example.com:443@evil.com/",
            "https://user:pw@app.example.com/", "https://evil.com#@gateway.example.com", "https://evil.com?@gateway.example.com",
            "https://evil.com\\@gateway.example.com", "https://evil.com/@gateway.example.com", "https://@gateway.example.com/",
            // Raw controls, whitespace and non-ASCII.
            " /app", "/app ", "\t/app", "/\t/evil.com", "/\n/evil.com", "/\r/evil.com", "\n//evil.com", "/app\r\nSet-Cookie: x=1",
            "/a\u{0}b", "/a\u{7f}b", "/\u{a0}/evil.com", "/\u{2028}/evil.com", "/\u{feff}/evil.com", "/café", " //evil.com",
            "https://gateway.example.com /", "java\tscript:alert(1)",
            // Encoded controls and whitespace anywhere.
            "/%09/evil.com", "/%0a/evil.com", "/%0d/evil.com", "/%00", "/app%0d%0aSet-Cookie:x=1", "/a?q=%0a", "/a#%09",
            "/%7f", "/%C2%A0/evil.com", "/%E2%80%A8/evil.com", "/%E2%80%8B", "/%EF%BB%BF", "/%E3%80%80",
            // Encoded slashes and backslashes at the start, at every decoding depth.
            "%2f%2fevil.com", "%2F%2Fevil.com", "/%2f%2fevil.com", "/%2F/evil.com", "/%2fevil.com", "/%5cevil.com",
            "/%5Cevil.com", "%5c%5cevil.com", "/%252f%252fevil.com", "/%252fevil.com", "/%255cevil.com", "/%25252fevil.com",
            "/%2509/evil.com", "/%250a", "/%25250d", "/%2525252f", "/a?x=%25252525252F",
            // Dot segments that collapse into a scheme-relative path.
            "/.//evil.com", "/..//evil.com", "/a/..//evil.com", "/%2e//evil.com", "/%2E%2E//evil.com", "/.%2e//evil.com",
            "/%252e//evil.com", "/a/%2e%2e/%2fevil.com", "/./%2fevil.com",
        ])
    func refused(value: String) {
        #expect(redirectGuard.validate(value) == nil)
    }

    @Test("values at the length limit pass; one byte more is refused")
    func lengthLimit() {
        let longest = "/" + String(repeating: "a", count: RedirectGuard.maximumLength - 1)
        #expect(redirectGuard.validate(longest) == longest)
        #expect(redirectGuard.validate(longest + "a") == nil)
    }

    @Test(
        "a plain-http gateway accepts http and https for allowed hosts, but only its own origin",
        arguments: [
            ("http://localhost:8080/app", true), ("http://app.test/", true), ("https://app.test/", true),
            ("http://app.test:80/", true), ("http://app.test:8080/", false), ("https://localhost:8080/", false),
            ("http://localhost/", false), ("http://localhost:8081/", false), ("http://[::1]:9000/x", true),
            ("http://[::1]/", false), ("http://[::1:9000/", false),
        ])
    func plainHTTPGateway(value: String, accepted: Bool) throws {
        let redirectGuard = try makeGuard(publicURL: "http://localhost:8080", allowed: ["app.test", "[::1]:9000"])
        #expect((redirectGuard.validate(value) != nil) == accepted)
    }

    @Test("refusals say why without quoting the value")
    func reasons() {
        let cases: [(String, String)] = [
            ("", "empty"), ("//evil.com", "scheme-relative URL"), ("https://evil.com/", "host is not allowed"),
            ("https://a@gateway.example.com/", "malformed host, or credentials in the URL"),
            ("/%2f%2fevil.com", "encoded scheme-relative or backslash start"), ("/%0a", "encoded control character"),
            ("javascript:alert(1)", "neither an absolute path nor an http(s) URL"),
        ]
        for (value, reason) in cases {
            #expect(redirectGuard.check(value) == .failure(RedirectGuard.Rejection(reason: reason)), "\(value)")
        }
    }

    @Test(
        "allowed hosts parse case-insensitively, with an optional port",
        arguments: [
            ("app.example.com", "app.example.com", nil), ("App.Example.COM", "app.example.com", nil),
            ("app.example.com:8443", "app.example.com", 8443), ("[::1]:9000", "::1", 9000), ("10.0.0.5", "10.0.0.5", nil),
        ] as [(String, String, Int?)])
    func allowedHostParsing(text: String, host: String, port: Int?) throws {
        let parsed = try RedirectGuard.AllowedHost.parse(text).get()
        #expect(parsed.host == host)
        #expect(parsed.port == port)
    }

    @Test(
        "allowed hosts that are not plain host names are refused",
        arguments: [
            "", "*.example.com", "https://app.example.com", "app.example.com/", "user@app.example.com", "app.example.com:",
            "app.example.com:0", "app.example.com:70000", "app example.com", "app.example.com:80:80", "[::1", "app%2ecom",
        ])
    func allowedHostRefused(text: String) {
        if case .success(let host) = RedirectGuard.AllowedHost.parse(text) {
            Issue.record("accepted \(text) as \(host)")
        }
    }
}
