import Testing

@testable import PortcullisCore

@Suite("Request targets")
struct RequestTargetTests {
    @Test(
        "plain paths pass and split from the query",
        arguments: [
            ("/", "/", nil), ("/app/x", "/app/x", nil), ("/a?b=c&d=/../", "/a", "b=c&d=/../"),
            ("/file.txt", "/file.txt", nil), ("/.well-known/x", "/.well-known/x", nil), ("/a..b/", "/a..b/", nil),
            ("/%41%62", "/Ab", nil), ("/a/...", "/a/...", nil), ("/?", "/", ""), ("//a?x=%2f%2e%2e", "/a", "x=%2f%2e%2e"),
        ] as [(String, String, String?)])
    func accepted(uri: String, path: String, query: String?) throws {
        let target = try RequestTarget.parse(uri).get()
        #expect(target.path == Substring(path))
        #expect(target.query.map(String.init) == query)
        #expect(target.authority == nil)
    }

    /// Each of these could make the gateway and the upstream disagree about the path, and so
    /// reach a protected route through a public one.
    @Test(
        "paths that could escape their route are refused",
        arguments: [
            "/public/../admin", "/public/..", "/./admin", "/public/%2e%2e/admin", "/public/%2E%2E/admin", "/public/.%2e/admin",
            "/public/%2e./admin", "/public/%2e/admin", "/public%2f..%2fadmin", "/public%2F..%2Fadmin", "/public\\..\\admin",
            "/public%5c..%5cadmin", "/a%00b", "/a%0d%0aX-Injected:1", "/a%", "/a%zz", "/a%2", "admin", "*",
            "/a b", "/a\tb", "/public/..;/admin", "/public/..;x=1/admin", "/.;/admin", "/public/%2e%2e;jsessionid=1/admin",
            "/public/;x/admin", "/a#b", "/a?b#c", "#", "/a?b c",
        ])
    func refused(uri: String) {
        if case .success = RequestTarget.parse(uri) {
            Issue.record("accepted \(uri)")
        }
    }

    /// Input → the canonical path routing uses and the upstream receives, or nil when refused.
    @Test(
        "paths are canonicalized, or refused when no spelling is safe",
        arguments: [
            // Escapes of unreserved characters decoded, since every upstream decodes them.
            ("/%61dmin", "/admin"), ("/%41%62", "/Ab"), ("/a%2db%2Ec%5fd%7e", "/a-b.c_d~"), ("/%30%39", "/09"),
            ("/~%7e", "/~~"), ("/a%2e%2e", "/a.."), ("/%2e%2e%2e", "/..."),
            // Other escapes kept, in uppercase hex.
            ("/a%3fb", "/a%3Fb"), ("/a%3Fb", "/a%3Fb"), ("/caf%c3%a9", "/caf%C3%A9"), ("/a%20b", "/a%20b"),
            ("/a%25b", "/a%25b"), ("/a%252e%252e/x", "/a%252e%252e/x"), ("/%3b", "/%3B"),
            // Runs of `/` merged, as nginx's merge_slashes does.
            ("//a///b", "/a/b"), ("//", "/"), ("/a//", "/a/"), ("/a/b/", "/a/b/"), ("///%61//", "/a/"),
            // Parameters stay; routing and the upstream both see them.
            ("/admin;jsessionid=1", "/admin;jsessionid=1"), ("/a;x/b", "/a;x/b"), ("/app/;jsessionid=1", "/app/;jsessionid=1"),
            ("/a..;/b", "/a..;/b"), ("/caf\u{e9}", "/caf\u{e9}"),
            // Dot segments, also before `;` parameters (Tomcat resolves `..;` as `..`).
            ("/a/%2e%2e/b", nil), ("/a/..;/b", nil), ("/a/..;x=1/b", nil), ("/.;/admin", nil), ("/a/.;", nil),
            ("/a/%2e%2e;jsessionid=1/b", nil), ("/a/..%3Bx/b", nil), ("/a/%2E%2e", nil), ("/%2e", nil),
            // An empty segment with parameters: Tomcat merges `/;x/` into `/`.
            ("/a/;x/b", nil), ("/;x/admin", nil),
            // Separators, control characters, malformed escapes, fragments.
            ("/a%2Fb", nil), ("/a%5c", nil), ("/a\\b", nil), ("/a%00", nil), ("/a%7F", nil), ("/a%", nil), ("/a%g0", nil),
            ("/%7Euser//x%2fy", nil), ("/a#", nil),
        ] as [(String, String?)])
    func canonicalization(uri: String, canonical: String?) {
        switch RequestTarget.parse(uri) {
        case .success(let target):
            #expect(canonical.map { Substring($0) } == target.path, "\(uri) → \(target.path)")
        case .failure(let rejection):
            #expect(canonical == nil, "\(uri) refused: \(rejection.reason)")
        }
    }

    @Test(
        "each refusal says why",
        arguments: [
            ("/a#b", "fragment in request target"), ("/a/..;/b", "dot segment in path"),
            ("/a%2fb", "encoded path separator in path"), ("/a%", "malformed percent-encoding in path"),
            ("http://user@host/", "user information in request target"), ("http:///x", "invalid authority in request target"),
            ("*", "the path must start with \"/\""), ("/a/;x/b", "path parameters on an empty segment"),
        ])
    func reasons(uri: String, reason: String) {
        #expect(RequestTarget.parse(uri) == .failure(RequestTarget.Rejection(reason: reason)))
    }

    /// The hot path: a path that needs no rewrite is a slice of the request line's string.
    @Test("an already canonical path is not copied")
    func canonicalPathIsASlice() throws {
        let uri = "/applications/portal/orders/42?page=3"  // longer than a small string
        let target = try RequestTarget.parse(uri).get()
        let uriStart = uri.utf8.withContiguousStorageIfAvailable { $0.baseAddress }
        let pathStart = target.path.utf8.withContiguousStorageIfAvailable { $0.baseAddress }
        #expect(uriStart != nil && pathStart == uriStart)

        let rewritten = "/applications//portal/orders/42?page=3"
        let copy = try RequestTarget.parse(rewritten).get()
        #expect(copy.path == "/applications/portal/orders/42")
        #expect(copy.query == "page=3")
    }

    @Test(
        "absolute-form targets give their authority and a canonical path",
        arguments: [
            ("http://evil.example/admin", "evil.example", "/admin", nil),
            ("HTTPS://Evil.Example:8443/a//b?q=1", "Evil.Example:8443", "/a/b", "q=1"),
            ("hTTp://h", "h", "/", nil), ("http://h?x", "h", "/", "x"), ("http://[::1]:8080/x", "[::1]:8080", "/x", nil),
            ("http://10.0.0.1/%61", "10.0.0.1", "/a", nil),
        ] as [(String, String, String, String?)])
    func absoluteForm(uri: String, authority: String, path: String, query: String?) throws {
        let target = try RequestTarget.parse(uri).get()
        #expect(target.authority == Substring(authority))
        #expect(target.path == Substring(path))
        #expect(target.query.map(String.init) == query)
    }

    @Test(
        "absolute-form targets with userinfo, another scheme or a bad authority are refused",
        arguments: [
            "http://user@evil.example/", "https://a:b@host/x", "http://@host/", "http:/host/x", "http:host/x", "ftp://host/x",
            "httpx://host/", "http://", "http:///x", "http://a b/", "http://host#frag", "http://host:/x", "http://host:123456/",
            "http://ho%73t/", "http://host/../x", "http://host/a#b", "http://[::1/x",
        ])
    func absoluteFormRefused(uri: String) {
        if case .success = RequestTarget.parse(uri) {
            Issue.record("accepted \(uri)")
        }
    }

    /// A `pathPrefix` must be written as the canonical paths it is compared with, or it
    /// would never match and its requests would fall to a less specific route.
    @Test(
        "validate accepts only safe paths already in canonical form",
        arguments: [
            ("/admin", true), ("/a%3Fb", true), ("/a;x", true), ("/", true), ("/%61dmin", false), ("/a%3fb", false),
            ("/a//b", false), ("/a/../b", false), ("/a/..;/b", false), ("a", false),
        ])
    func validate(path: String, valid: Bool) {
        #expect((RequestTarget.validate(path) == nil) == valid, "\(path): \(RequestTarget.validate(path) ?? "valid")")
    }
}
