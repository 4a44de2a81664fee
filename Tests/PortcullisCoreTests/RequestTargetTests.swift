import Testing

@testable import PortcullisCore

@Suite("Request targets")
struct RequestTargetTests {
    @Test(
        "plain paths pass and split from the query",
        arguments: [
            ("/", "/", nil), ("/app/x", "/app/x", nil), ("/a?b=c&d=/../", "/a", "b=c&d=/../"),
            ("/file.txt", "/file.txt", nil), ("/.well-known/x", "/.well-known/x", nil), ("/a..b/", "/a..b/", nil),
            ("/%41%62", "/%41%62", nil), ("/a/...", "/a/...", nil), ("/?", "/", ""),
        ] as [(String, String, String?)])
    func accepted(uri: String, path: String, query: String?) throws {
        let target = try RequestTarget.parse(uri).get()
        #expect(target.path == Substring(path))
        #expect(target.query.map(String.init) == query)
    }

    /// Each of these could make the gateway and the upstream disagree about the path, and so
    /// reach a protected route through a public one.
    @Test(
        "paths that could escape their route are refused",
        arguments: [
            "/public/../admin", "/public/..", "/./admin", "/public/%2e%2e/admin", "/public/%2E%2E/admin", "/public/.%2e/admin",
            "/public/%2e./admin", "/public/%2e/admin", "/public%2f..%2fadmin", "/public%2F..%2Fadmin", "/public\\..\\admin",
            "/public%5c..%5cadmin", "/a%00b", "/a%0d%0aX-Injected:1", "/a%", "/a%zz", "/a%2", "admin", "*",
            "http://evil.example/admin", "/a b", "/a\tb",
        ])
    func refused(uri: String) {
        if case .success = RequestTarget.parse(uri) {
            Issue.record("accepted \(uri)")
        }
    }
}
