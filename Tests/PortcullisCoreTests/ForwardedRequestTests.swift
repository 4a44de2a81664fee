import Testing

@testable import PortcullisCore

/// What a forward-auth call is about: the proxy's forwarding headers from a trusted peer,
/// the call's own request from anyone else.
@Suite("Forward-auth: the original request")
struct ForwardedRequestTests {
    static func read(_ headers: [String: [String]], trusted: Bool) -> Result<ForwardedRequest, RequestTarget.Rejection> {
        ForwardedRequest.read(method: "GET", host: "auth.contoso.org", uri: "/.portcullis/verify", values: { headers[$0] ?? [] }, trusted: trusted)
    }

    static let nginx: [String: [String]] = [
        "x-forwarded-method": ["POST"], "x-forwarded-host": ["app.contoso.org"], "x-forwarded-uri": ["/admin/x?y=1"], "x-forwarded-proto": ["https"],
    ]

    @Test("a trusted proxy's X-Forwarded-* name the request; an untrusted caller's are ignored")
    func trust() throws {
        #expect(try Self.read(Self.nginx, trusted: true).get() == ForwardedRequest(method: "POST", host: "app.contoso.org", uri: "/admin/x?y=1", scheme: "https"))
        #expect(try Self.read(Self.nginx, trusted: false).get() == ForwardedRequest(method: "GET", host: "auth.contoso.org", uri: "/.portcullis/verify", scheme: nil))
    }

    @Test("ingress-nginx's X-Original-URL and X-Original-Method")
    func ingress() throws {
        let request = try Self.read(["x-original-url": ["https://app.contoso.org:8443/a/b?c"], "x-original-method": ["DELETE"]], trusted: true).get()
        #expect(request == ForwardedRequest(method: "DELETE", host: "app.contoso.org:8443", uri: "/a/b?c", scheme: "https"))
        #expect(try Self.read(["x-original-url": ["https://app.contoso.org"]], trusted: true).get().uri == "/")
    }

    @Test(
        "ambiguous or malformed forwarding headers are refused",
        arguments: [
            ["x-forwarded-uri": ["/a", "/b"]], ["x-forwarded-uri": ["a"]], ["x-forwarded-uri": ["http://evil/x"]],
            ["x-forwarded-host": ["evil.com/x"]], ["x-forwarded-host": ["a@b"]], ["x-forwarded-method": ["G ET"]],
            ["x-forwarded-proto": ["javascript"]], ["x-original-url": ["//evil.com/x"]], ["x-original-url": ["https://u:p@app/x"]],
            ["x-forwarded-method": ["GET", "POST"]],
        ] as [[String: [String]]])
    func refused(headers: [String: [String]]) {
        #expect(throws: RequestTarget.Rejection.self) { try Self.read(headers, trusted: true).get() }
    }
}
