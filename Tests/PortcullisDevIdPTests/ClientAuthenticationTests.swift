import Foundation
import Testing
@testable import PortcullisDevIdP

@Suite("Client authentication")
struct ClientAuthenticationTests {
    static let certClientID = "cccccccc-0000-4000-8000-000000000001"

    /// Signs alice in for the certificate client and posts the code with the given assertion.
    static func redeem(_ idp: TestIdP, assertion: String, tenant: String = TestIdP.contoso) async throws -> TestResponse {
        let (code, verifier, _) = try await idp.signIn("alice", clientID: certClientID)
        return try await idp.postForm(
            "/\(tenant)/oauth2/v2.0/token",
            [
                ("grant_type", "authorization_code"), ("client_id", certClientID), ("code", code),
                ("redirect_uri", TestIdP.redirectURI), ("code_verifier", verifier),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion),
            ])
    }

    static func withCertificateClient(_ body: (TestIdP, TestCertificate) async throws -> Void) async throws {
        let certificate = try TestCertificate()
        var directory = TestIdP.directory
        directory.clients.append(
            DevIdPClient(clientId: certClientID, certificatePEM: certificate.pem, redirectURIs: [TestIdP.redirectURI]))
        try await TestIdP.with(directory: directory) { idp in try await body(idp, certificate) }
    }

    @Test("private_key_jwt: a PS256 assertion for the token endpoint is accepted once")
    func goodAssertionThenReplay() async throws {
        try await Self.withCertificateClient { idp, certificate in
            let audience = "\(idp.base)/\(TestIdP.contoso)/oauth2/v2.0/token"
            let assertion = try certificate.assertion(clientID: Self.certClientID, audience: audience)
            let good = try await Self.redeem(idp, assertion: assertion)
            #expect(good.status == 200)
            #expect(good.json["id_token"] is String)
            let replay = try await Self.redeem(idp, assertion: assertion)
            #expect(replay.status == 401)
            #expect(replay.json["error"] as? String == "invalid_client")
        }
    }

    @Test("private_key_jwt: wrong aud, RS256, wrong thumbprint, foreign key, long life and expiry are refused")
    func badAssertions() async throws {
        try await Self.withCertificateClient { idp, certificate in
            let audience = "\(idp.base)/\(TestIdP.contoso)/oauth2/v2.0/token"
            let stranger = try TestCertificate()
            let cases: [(String, Int, String)] = [
                ("wrong aud", 50027, try certificate.assertion(clientID: Self.certClientID, audience: "\(idp.base)/common/oauth2/v2.0/token")),
                ("RS256", 5002738, try certificate.assertion(clientID: Self.certClientID, audience: audience, algorithm: "RS256")),
                ("thumbprint", 700027, try certificate.assertion(clientID: Self.certClientID, audience: audience, thumbprint: stranger.thumbprintSHA256)),
                ("foreign key", 700027, try stranger.assertion(clientID: Self.certClientID, audience: audience, thumbprint: certificate.thumbprintSHA256)),
                ("too long", 700024, try certificate.assertion(clientID: Self.certClientID, audience: audience, lifetime: 3600)),
                ("expired", 700024, try certificate.assertion(clientID: Self.certClientID, audience: audience, issuedAt: Date() - 900)),
                ("not a JWT", 50027, "abc.def"),
            ]
            for (name, code, assertion) in cases {
                let response = try await Self.redeem(idp, assertion: assertion)
                #expect(response.status == 401, "\(name)")
                #expect(response.json["error"] as? String == "invalid_client", "\(name)")
                #expect(response.json["error_codes"] as? [Int] == [code], "\(name)")
            }
            // The assertion endpoint URL under the domain alias is the same endpoint.
            let viaDomain = try certificate.assertion(clientID: Self.certClientID, audience: "\(idp.base)/contoso.example/oauth2/v2.0/token")
            #expect(try await Self.redeem(idp, assertion: viaDomain, tenant: "contoso.example").status == 200)
        }
    }

    @Test("a confidential client without credentials, or with a wrong secret, is a 401 invalid_client")
    func secrets() async throws {
        try await TestIdP.with { idp in
            let (code, verifier, _) = try await idp.signIn("alice")
            let base: [(String, String)] = [
                ("grant_type", "authorization_code"), ("client_id", TestIdP.clientID), ("code", code),
                ("redirect_uri", TestIdP.redirectURI), ("code_verifier", verifier),
            ]
            let wrong = try await idp.postForm("/common/oauth2/v2.0/token", base + [("client_secret", "nope")])
            #expect(wrong.status == 401)
            #expect(wrong.json["error"] as? String == "invalid_client")
            #expect(wrong.json["error_codes"] as? [Int] == [7000215])
            let none = try await idp.postForm("/common/oauth2/v2.0/token", base)
            #expect(none.status == 401)
            #expect(none.json["error"] as? String == "invalid_client")

            let basic = Data("\(TestIdP.clientID):\(TestIdP.secret)".utf8).base64EncodedString()
            let viaBasic = try await idp.postForm("/common/oauth2/v2.0/token", base, headers: [("Authorization", "Basic \(basic)")])
            #expect(viaBasic.status == 200)
        }
    }
}
