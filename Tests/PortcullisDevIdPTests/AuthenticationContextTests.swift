import Foundation
import Testing
@testable import PortcullisDevIdP

@Suite("Authentication contexts (Conditional Access step-up)")
struct AuthenticationContextTests {
    /// The authorize parameter a gateway sends to ask for contexts: `acrs` is the JSON of the
    /// `id_token.acrs` request, e.g. `{"essential":true,"value":"c1"}`.
    static func claims(acrs: String) -> [(String, String)] {
        [("claims", #"{"id_token":{"acrs":"# + acrs + "}}")]
    }

    static func idTokenClaims(_ json: [String: Any]) throws -> [String: Any] {
        TestBase64URL.jwtPart(try #require(json["id_token"] as? String), 1)
    }

    @Test("claims asking for c1 gives an ID token with acrs [c1]; the sign-in page names the context")
    func oneContext() async throws {
        try await TestIdP.with { idp in
            let request = Self.claims(acrs: #"{"essential":true,"value":"c1"}"#)
            let json = try await idp.tokens(for: "alice", extra: request)
            let claims = try Self.idTokenClaims(json)
            #expect(claims["acrs"] as? [String] == ["c1"])
            #expect(claims["nonce"] as? String == "n-0S6_WzA2Mj")

            let page = try await idp.send(idp.authorizeURL(challenge: PKCE().challenge, extra: request))
            #expect(page.status == 200)
            #expect(page.body.contains(#"<p id="step-up">Extra verification requested: authentication context c1 ("#))
            // Each user's link carries the request along, so picking one completes the step-up.
            #expect(page.body.contains("claims=%7B%22id_token%22"))
        }
    }

    @Test("values [c1, c2] gives both, in order and without repeats")
    func severalContexts() async throws {
        try await TestIdP.with { idp in
            let request = Self.claims(acrs: #"{"essential":true,"value":"c2","values":["c1","c2","c1"]}"#)
            let claims = try Self.idTokenClaims(try await idp.tokens(for: "bob", extra: request))
            #expect(claims["acrs"] as? [String] == ["c2", "c1"])

            let both = Self.claims(acrs: #"{"essential":true,"values":["c1","c2"]}"#)
            #expect(try Self.idTokenClaims(try await idp.tokens(for: "bob", extra: both))["acrs"] as? [String] == ["c1", "c2"])
            let page = try await idp.send(idp.authorizeURL(challenge: PKCE().challenge, extra: both))
            #expect(page.body.contains("Extra verification requested: authentication context c1, c2 ("))
        }
    }

    @Test("no claims, acrs null, or only other claims requested: no acrs claim and no step-up line")
    func noContexts() async throws {
        try await TestIdP.with { idp in
            let plain = try Self.idTokenClaims(try await idp.tokens(for: "alice"))
            #expect(plain["acrs"] == nil)
            for other in [
                #"{"id_token":{"acrs":null}}"#,
                #"{"id_token":{"auth_time":{"essential":true},"xms_cc":{"values":["cp1"]}},"userinfo":{"email":null}}"#,
                #"{"access_token":{"acrs":{"essential":true,"value":"c1"}}}"#,
            ] {
                let claims = try Self.idTokenClaims(try await idp.tokens(for: "alice", extra: [("claims", other)]))
                #expect(claims["acrs"] == nil, "\(other)")
                let page = try await idp.send(idp.authorizeURL(challenge: PKCE().challenge, extra: [("claims", other)]))
                #expect(page.status == 200)
                #expect(!page.body.contains("step-up"), "\(other)")
            }
        }
    }

    @Test(
        "a malformed claims parameter is invalid_request to the client, with state and no code",
        arguments: [
            "{not json", "[]", #""c1""#, #"{"id_token":"acrs"}"#, #"{"id_token":{"acrs":"c1"}}"#,
            #"{"id_token":{"acrs":["c1"]}}"#, #"{"id_token":{"acrs":{"value":1}}}"#,
            #"{"id_token":{"acrs":{"values":"c1"}}}"#, #"{"id_token":{"acrs":{"values":["c1",2]}}}"#,
            #"{"id_token":{"acrs":{"essential":"yes","value":"c1"}}}"#,
            #"{"id_token":{"acrs":{"value":"c100"}}}"#, #"{"id_token":{"acrs":{"value":"c0"}}}"#,
            #"{"id_token":{"acrs":{"value":"C1"}}}"#, #"{"id_token":{"acrs":{"value":"c01"}}}"#,
            #"{"id_token":{"acrs":{"values":["c1","urn:mfa"]}}}"#,
        ])
    func malformed(_ claims: String) async throws {
        try await TestIdP.with { idp in
            // Without dev_user (what a gateway sends) and with one (a picked user): refused either way.
            for user in [nil, "alice"] {
                let response = try await idp.send(
                    idp.authorizeURL(user: user, challenge: PKCE().challenge, state: "s1", extra: [("claims", claims)]))
                #expect(response.status == 302)
                let parameters = response.locationParameters
                #expect(parameters["error"] == "invalid_request")
                #expect(parameters["state"] == "s1")
                #expect(parameters["code"] == nil)
                #expect(parameters["error_description"]?.hasPrefix("AADSTS90023: Invalid 'claims' parameter: ") == true)
            }
        }
    }

    @Test("a refresh keeps the acrs the sign-in satisfied, through every rotation")
    func refreshKeepsContexts() async throws {
        try await TestIdP.with { idp in
            let request = Self.claims(acrs: #"{"essential":true,"values":["c1","c2"]}"#)
            var token = try #require(try await idp.tokens(for: "alice", extra: request)["refresh_token"] as? String)
            for _ in 0..<2 {
                let response = try await idp.refresh(token)
                #expect(response.status == 200)
                let claims = try Self.idTokenClaims(response.json)
                #expect(claims["acrs"] as? [String] == ["c1", "c2"])
                #expect(claims["nonce"] == nil)
                token = try #require(response.json["refresh_token"] as? String)
            }

            // A session that never stepped up does not gain contexts by refreshing.
            let plain = try #require(try await idp.tokens(for: "alice")["refresh_token"] as? String)
            #expect(try Self.idTokenClaims(try await idp.refresh(plain).json)["acrs"] == nil)
        }
    }

    @Test("discovery lists acrs in claims_supported")
    func discovery() async throws {
        try await TestIdP.with { idp in
            let json = try await idp.send("/\(TestIdP.contoso)/v2.0/.well-known/openid-configuration").json
            #expect((json["claims_supported"] as? [String])?.contains("acrs") == true)
        }
    }
}
