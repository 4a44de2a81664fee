import Crypto
import Foundation
import PortcullisCore
import Testing
@testable import PortcullisDevIdP

@Suite("Authorization code flow")
struct CodeFlowTests {
    @Test("the picker lists only the tenant's users, escaped, each linking with dev_user")
    func picker() async throws {
        try await TestIdP.with { idp in
            let pkce = PKCE()
            let page = try await idp.send(idp.authorizeURL(challenge: pkce.challenge, state: "<x>\"'&"))
            #expect(page.status == 200)
            #expect(page.body.contains("Portcullis development IdP — not for production"))
            #expect(page.body.contains("id=\"user-alice\""))
            #expect(page.body.contains("alice@contoso.example"))
            #expect(!page.body.contains("erin@fabrikam.example"))
            #expect(page.body.contains("dev_user=alice"))
            #expect(!page.body.contains("<x>"))
            let common = try await idp.send(idp.authorizeURL(tenant: "common", challenge: pkce.challenge))
            #expect(common.body.contains("id=\"user-erin\""))
        }
    }

    @Test("code flow with PKCE returns tokens with Entra's claims")
    func fullFlow() async throws {
        try await TestIdP.with { idp in
            let pkce = PKCE()
            let response = try await idp.send(idp.authorizeURL(user: "alice", challenge: pkce.challenge, nonce: "nonce-123", state: "st 1"))
            #expect(response.status == 302)
            let location = try #require(response.location)
            #expect(location.hasPrefix(TestIdP.redirectURI + "&code="))
            let parameters = response.locationParameters
            #expect(parameters["state"] == "st 1")
            #expect(parameters["app"] == "1")
            let code = try #require(parameters["code"])
            let sessionState = try #require(parameters["session_state"])

            let tokenResponse = try await idp.redeem(code, verifier: pkce.verifier)
            #expect(tokenResponse.status == 200)
            #expect(tokenResponse.header("cache-control") == "no-store")
            let json = tokenResponse.json
            #expect(json["token_type"] as? String == "Bearer")
            #expect(json["expires_in"] as? Int == 3600)
            #expect(json["access_token"] is String && json["refresh_token"] is String)
            let idToken = try #require(json["id_token"] as? String)
            let claims = TestBase64URL.jwtPart(idToken, 1)
            #expect(claims["ver"] as? String == "2.0")
            #expect(claims["aud"] as? String == TestIdP.clientID)
            #expect(claims["iss"] as? String == "\(idp.base)/\(TestIdP.contoso)/v2.0")
            #expect(claims["tid"] as? String == TestIdP.contoso)
            #expect(claims["nonce"] as? String == "nonce-123")
            #expect(claims["sid"] as? String == sessionState)
            #expect(claims["oid"] as? String == "a11ce000-0000-4000-8000-000000000001")
            #expect(claims["preferred_username"] as? String == "alice@contoso.example")
            #expect(claims["upn"] as? String == "alice@contoso.example")
            #expect(claims["roles"] as? [String] == ["Repairs.Read", "Repairs.Write"])
            #expect((claims["groups"] as? [String])?.count == 2)
            #expect(claims["_claim_names"] == nil)
            let exp = try #require(claims["exp"] as? Int)
            let iat = try #require(claims["iat"] as? Int)
            #expect(exp - iat == 3600)
            #expect((claims["sub"] as? String)?.count == 43)

            // sub is pairwise but stable for the same user and client.
            let again = try await idp.tokens(for: "alice")
            let second = TestBase64URL.jwtPart(try #require(again["id_token"] as? String), 1)
            #expect(second["sub"] as? String == claims["sub"] as? String)
            #expect(second["uti"] as? String != claims["uti"] as? String)
        }
    }

    @Test("without offline_access there is no refresh token; bob has no roles claim")
    func scopesAndOptionalClaims() async throws {
        try await TestIdP.with { idp in
            let json = try await idp.tokens(for: "bob", scope: "openid profile")
            #expect(json["refresh_token"] == nil)
            let claims = TestBase64URL.jwtPart(try #require(json["id_token"] as? String), 1)
            #expect(claims["roles"] == nil)
            #expect(claims["upn"] == nil)
            #expect(claims["groups"] as? [String] == ["9a000000-0000-4000-8000-000000000001"])
        }
    }

    @Test("a wrong code_verifier is invalid_grant AADSTS501481")
    func wrongVerifier() async throws {
        try await TestIdP.with { idp in
            let (code, _, _) = try await idp.signIn("alice")
            let response = try await idp.redeem(code, verifier: PKCE().verifier)
            #expect(response.status == 400)
            #expect(response.json["error"] as? String == "invalid_grant")
            #expect(response.json["error_codes"] as? [Int] == [501481])
            let description = try #require(response.json["error_description"] as? String)
            #expect(description.hasPrefix("AADSTS501481: "))
            #expect(description.contains("\r\nTrace ID: ") && description.contains("\r\nCorrelation ID: "))
            #expect(description.contains("\r\nTimestamp: "))
        }
    }

    @Test("a code is single use: replay is invalid_grant AADSTS54005, and stays so")
    func codeReplay() async throws {
        try await TestIdP.with { idp in
            let (code, verifier, _) = try await idp.signIn("alice")
            #expect(try await idp.redeem(code, verifier: verifier).status == 200)
            for _ in 0..<2 {
                let replay = try await idp.redeem(code, verifier: verifier)
                #expect(replay.status == 400)
                #expect(replay.json["error"] as? String == "invalid_grant")
                #expect(replay.json["error_codes"] as? [Int] == [54005])
            }
        }
    }

    @Test("a code expires after ten minutes (AADSTS70008)")
    func codeExpiry() async throws {
        try await TestIdP.with { idp in
            let (code, verifier, _) = try await idp.signIn("alice")
            idp.clock.advance(601)
            let response = try await idp.redeem(code, verifier: verifier)
            #expect(response.json["error_codes"] as? [Int] == [70008])
        }
    }

    @Test("a code redeemed with another redirect_uri or another tenant's endpoint is refused")
    func codeBinding() async throws {
        try await TestIdP.with { idp in
            let (code, verifier, _) = try await idp.signIn("alice")
            let other = try await idp.postForm(
                "/\(TestIdP.contoso)/oauth2/v2.0/token",
                [
                    ("grant_type", "authorization_code"), ("client_id", TestIdP.clientID), ("client_secret", TestIdP.secret),
                    ("code", code), ("redirect_uri", "https://app.test/.portcullis/callback"), ("code_verifier", verifier),
                ])
            #expect(other.json["error"] as? String == "invalid_grant")
            let fabrikam = try await idp.redeem(code, verifier: verifier, tenant: "fabrikam.example")
            #expect(fabrikam.json["error_codes"] as? [Int] == [700005])
        }
    }

    @Test("an unregistered redirect_uri or unknown client gets an error page, never a redirect")
    func unregisteredRedirect() async throws {
        try await TestIdP.with { idp in
            let pkce = PKCE()
            for url in [
                idp.authorizeURL(user: "alice", challenge: pkce.challenge, redirectURI: "https://evil.example/cb"),
                idp.authorizeURL(user: "alice", challenge: pkce.challenge, redirectURI: "https://app.test/.portcullis/callback"),
                idp.authorizeURL(user: "alice", challenge: pkce.challenge, clientID: "unknown-client"),
            ] {
                let response = try await idp.send(url)
                #expect(response.status == 400)
                #expect(response.location == nil)
                #expect(response.body.contains("not for production"))
                #expect(!response.body.contains("code="))
            }
        }
    }

    @Test("PKCE is required: no challenge or a plain one is invalid_request back to the client")
    func pkceRequired() async throws {
        try await TestIdP.with { idp in
            let missing = try await idp.send(idp.authorizeURL(user: "alice", challenge: nil, state: "s1"))
            #expect(missing.status == 302)
            #expect(missing.locationParameters["error"] == "invalid_request")
            #expect(missing.locationParameters["state"] == "s1")
            #expect(missing.locationParameters["code"] == nil)
            let plain = try await idp.send(
                idp.authorizeURL(user: "alice", challenge: nil, extra: [("code_challenge", PKCE().verifier), ("code_challenge_method", "plain")]))
            #expect(plain.locationParameters["error"] == "invalid_request")
        }
    }

    @Test("a user with signInError sends that Entra error to the client, with state")
    func signInError() async throws {
        try await TestIdP.with { idp in
            let response = try await idp.send(idp.authorizeURL(user: "dave", challenge: PKCE().challenge, state: "xyz"))
            #expect(response.status == 302)
            let parameters = response.locationParameters
            #expect(response.location?.hasPrefix(TestIdP.redirectURI + "&") == true)
            #expect(parameters["error"] == "access_denied")
            #expect(parameters["state"] == "xyz")
            #expect(parameters["code"] == nil)
            let description = try #require(parameters["error_description"])
            #expect(description.hasPrefix("AADSTS50105: The signed in user 'dave@contoso.example' is not assigned to a role"))
            #expect(parameters["error_uri"]?.contains("50105") == true)
        }
    }

    @Test("a user of another tenant cannot be picked at a tenant-specific endpoint")
    func crossTenantUser() async throws {
        try await TestIdP.with { idp in
            let response = try await idp.send(idp.authorizeURL(user: "erin", challenge: PKCE().challenge))
            #expect(response.status == 400)
            #expect(response.location == nil)
            let (code, verifier, _) = try await idp.signIn("erin", tenant: "organizations")
            let tokens = try await idp.redeem(code, verifier: verifier, tenant: "organizations")
            let claims = TestBase64URL.jwtPart(try #require(tokens.json["id_token"] as? String), 1)
            #expect(claims["iss"] as? String == "\(idp.base)/\(DevIdPDirectory.demoFabrikamTenantID)/v2.0")
        }
    }

    @Test("response_mode=form_post answers with an auto-submitting form carrying the code")
    func formPost() async throws {
        try await TestIdP.with { idp in
            let pkce = PKCE()
            let response = try await idp.send(
                idp.authorizeURL(user: "alice", challenge: pkce.challenge, state: "a\"b", extra: [("response_mode", "form_post")]))
            #expect(response.status == 200)
            #expect(response.location == nil)
            let action = "action=\"https://app.test/.portcullis/callback?app=1\""
            #expect(response.body.contains("<form method=\"post\" \(action)>"))
            #expect(response.body.contains("<input type=\"hidden\" name=\"code\" value=\""))
            #expect(response.body.contains("<input type=\"hidden\" name=\"state\" value=\"a&quot;b\">"))
            #expect(response.body.contains("name=\"session_state\""))
            #expect(response.body.contains("type=\"submit\""))
            #expect(response.body.contains("not for production"))
            let code = try #require(response.body.firstMatch(of: /name="code" value="([^"]+)"/)).1
            #expect(try await idp.redeem(String(code), verifier: pkce.verifier).status == 200)
        }
    }

    @Test("prompt=none without a picked user is login_required")
    func promptNone() async throws {
        try await TestIdP.with { idp in
            let response = try await idp.send(idp.authorizeURL(challenge: PKCE().challenge, extra: [("prompt", "none")]))
            #expect(response.locationParameters["error"] == "login_required")
        }
    }
}
