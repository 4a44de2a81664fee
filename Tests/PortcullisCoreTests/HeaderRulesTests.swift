import Testing

@testable import PortcullisCore

@Suite("Header rules")
struct HeaderRulesTests {
    let rules: HeaderRules

    init() throws {
        let config = try loadConfig(
            #"{ "routes": [\#(minimalRoute)], "identityHeaders": { "alsoStrip": ["Remote-User"] } }"#)
        rules = HeaderRules(identityHeaders: config.identityHeaders)
    }

    @Test(
        "identity headers are stripped however CGI, PHP, WSGI or IIS would fold them (case, and -, _, . or any other non-alphanumeric alike)",
        arguments: [
            "X-Forwarded-User", "x-forwarded-user", "X_FORWARDED_USER", "x_Forwarded-user", "X-Forwarded-Email",
            "X-Forwarded-Name", "X-Forwarded-Roles", "X-Forwarded-Groups", "X-Forwarded-Permissions", "X-Auth-Method",
            "x_auth_method", "X-Portcullis-Assertion", "Remote-User", "REMOTE_USER", "X-Forwarded-Proto", "x_forwarded_host",
            "X-Forwarded-Port", "X.Forwarded.User", "x.forwarded_user", "X~Forwarded!User", "X*Auth*Method", "Remote.User",
        ])
    func identityStripped(name: String) {
        #expect(rules.stripsFromRequest(name, connectionTokens: nil))
    }

    @Test(
        "ordinary headers pass",
        arguments: ["Accept", "Cookie", "X-Forwarded-Users", "X-Forwarded-Use", "Authorization", "Content-Length", "X-Request-Id"])
    func ordinaryKept(name: String) {
        #expect(!rules.stripsFromRequest(name, connectionTokens: nil))
    }

    @Test(
        "hop-by-hop fields are removed both ways (RFC 9110 §7.6.1)",
        arguments: ["Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Proxy-Authorization"])
    func hopByHop(name: String) {
        #expect(rules.stripsFromRequest(name, connectionTokens: nil))
        #expect(rules.stripsFromResponse(name, connectionTokens: nil))
    }

    @Test("fields named in Connection are removed")
    func connectionListed() {
        let tokens = HeaderRules.connectionTokens(["keep-alive, X-Secret", " x-other ,"])
        #expect(rules.stripsFromRequest("X-Secret", connectionTokens: tokens))
        #expect(rules.stripsFromRequest("X-OTHER", connectionTokens: tokens))
        #expect(rules.stripsFromResponse("x-secret", connectionTokens: tokens))
        #expect(!rules.stripsFromRequest("X-Kept", connectionTokens: tokens))
        #expect(HeaderRules.connectionTokens(["", " , "]) == nil)
        #expect(HeaderRules.connectionTokens(["keep-alive"]) == nil)
        #expect(HeaderRules.connectionRequestsUpgrade(["Upgrade"]))
        #expect(HeaderRules.connectionRequestsUpgrade(["keep-alive, Upgrade"]))
        #expect(!HeaderRules.connectionRequestsUpgrade(["keep-alive", "close"]))
    }

    @Test("X-Forwarded-For gains this hop")
    func forwardedFor() {
        #expect(HeaderRules.appendingForwardedFor([], peer: "10.0.0.1") == "10.0.0.1")
        #expect(HeaderRules.appendingForwardedFor(["1.1.1.1, 2.2.2.2 ", "3.3.3.3"], peer: "10.0.0.1") == "1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.1")
    }

    @Test("header names are RFC 9110 tokens")
    func tokens() {
        #expect(HeaderName.isToken("X-Forwarded-User"))
        #expect(!HeaderName.isToken(""))
        #expect(!HeaderName.isToken("X User"))
        #expect(!HeaderName.isToken("X:User"))
        #expect(HeaderName.normalized("X_Forwarded_USER") == "x-forwarded-user")
        #expect(HeaderName.normalized("X.Forwarded~User") == "x-forwarded-user")
    }

    @Test("Connection makes the fields it names hop-by-hop, except those that frame the message and its host")
    func connectionCannotNameFraming() throws {
        let tokens = try #require(HeaderRules.connectionTokens(["keep-alive, Content-Length, X-Private, Transfer-Encoding, HOST"]))
        #expect(rules.stripsFromRequest("X-Private", connectionTokens: tokens))
        #expect(!rules.stripsFromRequest("Content-Length", connectionTokens: tokens))
        #expect(!rules.stripsFromRequest("Host", connectionTokens: tokens))
        #expect(rules.stripsFromResponse("x-private", connectionTokens: tokens))
        #expect(!rules.stripsFromResponse("content-length", connectionTokens: tokens))
        #expect(HeaderRules.connectionTokens(["content-length"]) == nil)
    }
}
