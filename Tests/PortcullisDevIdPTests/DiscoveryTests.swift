import Foundation
import JWTKit
import PortcullisCore
import Testing
@testable import PortcullisDevIdP

@Suite("Discovery and JWKS")
struct DiscoveryTests {
    @Test("a tenant GUID and its domain give the same tenant-specific issuer and endpoints")
    func specificTenant() async throws {
        try await TestIdP.with { idp in
            for segment in [TestIdP.contoso, "contoso.example", "CONTOSO.example"] {
                let response = try await idp.send("/\(segment)/v2.0/.well-known/openid-configuration")
                #expect(response.status == 200)
                let json = response.json
                #expect(json["issuer"] as? String == "\(idp.base)/\(TestIdP.contoso)/v2.0")
                #expect(json["token_endpoint"] as? String == "\(idp.base)/\(TestIdP.contoso)/oauth2/v2.0/token")
                #expect(json["jwks_uri"] as? String == "\(idp.base)/\(TestIdP.contoso)/discovery/v2.0/keys")
                #expect(json["end_session_endpoint"] as? String == "\(idp.base)/\(TestIdP.contoso)/oauth2/v2.0/logout")
                #expect(json["msgraph_host"] as? String == "127.0.0.1:\(idp.idp.port)")
                #expect(json["subject_types_supported"] as? [String] == ["pairwise"])
                #expect(json["response_modes_supported"] as? [String] == ["query", "fragment", "form_post"])
                #expect(json["token_endpoint_auth_methods_supported"] as? [String] == ["client_secret_post", "private_key_jwt", "client_secret_basic"])
                #expect(json["cloud_instance_name"] as? String == "microsoftonline.com")
                #expect(json.keys.contains("tenant_region_scope") && json["tenant_region_scope"] is NSNull)
            }
        }
    }

    @Test("organizations and common publish the {tenantid} issuer template")
    func multiTenant() async throws {
        try await TestIdP.with { idp in
            for segment in ["organizations", "common"] {
                let json = try await idp.send("/\(segment)/v2.0/.well-known/openid-configuration").json
                #expect(json["issuer"] as? String == "\(idp.base)/{tenantid}/v2.0")
                #expect(json["authorization_endpoint"] as? String == "\(idp.base)/\(segment)/oauth2/v2.0/authorize")
            }
        }
    }

    @Test("an unknown tenant is a 400 with AADSTS90002")
    func unknownTenant() async throws {
        try await TestIdP.with { idp in
            let response = try await idp.send("/nowhere.example/v2.0/.well-known/openid-configuration")
            #expect(response.status == 400)
            #expect((response.json["error_description"] as? String)?.hasPrefix("AADSTS90002:") == true)
            #expect(response.json["error_codes"] as? [Int] == [90002])
        }
    }

    @Test("JWKS keys have no alg and verify an issued ID token; rotation keeps or drops the old key")
    func jwksVerifiesTokens() async throws {
        try await TestIdP.with { idp in
            let keysPath = "/\(TestIdP.contoso)/discovery/v2.0/keys"
            let jwks = try await idp.send(keysPath)
            let keys = try #require(jwks.json["keys"] as? [[String: Any]])
            #expect(keys.count == 1)
            #expect(keys[0]["alg"] == nil)
            #expect(keys[0]["kty"] as? String == "RSA" && keys[0]["use"] as? String == "sig")
            let oldToken = try #require(try await idp.tokens(for: "alice")["id_token"] as? String)
            let header = TestBase64URL.jwtPart(oldToken, 0)
            #expect(header["alg"] as? String == "RS256" && header["kid"] as? String == keys[0]["kid"] as? String)
            _ = try await Self.verify(oldToken, jwks: jwks.body)

            idp.idp.rotateSigningKey(keepPrevious: true)
            let rotated = try await idp.send(keysPath)
            #expect((rotated.json["keys"] as? [[String: Any]])?.count == 2)
            let newToken = try #require(try await idp.tokens(for: "alice")["id_token"] as? String)
            #expect(TestBase64URL.jwtPart(newToken, 0)["kid"] as? String != header["kid"] as? String)
            _ = try await Self.verify(oldToken, jwks: rotated.body)
            _ = try await Self.verify(newToken, jwks: rotated.body)

            idp.idp.rotateSigningKey(keepPrevious: false)
            let dropped = try await idp.send(keysPath)
            #expect((dropped.json["keys"] as? [[String: Any]])?.count == 1)
            await #expect(throws: (any Error).self) { try await Self.verify(newToken, jwks: dropped.body) }
        }
    }

    @Test("POST /.devidp/rotate-keys rotates")
    func rotateEndpoint() async throws {
        try await TestIdP.with { idp in
            let before = try await idp.send("/common/discovery/v2.0/keys").json["keys"] as? [[String: Any]]
            let response = try await idp.send("/.devidp/rotate-keys", method: "POST")
            #expect(response.status == 200)
            let after = try #require(try await idp.send("/common/discovery/v2.0/keys").json["keys"] as? [[String: Any]])
            #expect(after.count == 2)
            #expect(after[0]["kid"] as? String == response.json["kid"] as? String)
            #expect(after[1]["kid"] as? String == before?.first?["kid"] as? String)
        }
    }

    /// Verifies with jwt-kit, independent of the IdP's own signing code.
    static func verify(_ token: String, jwks: String) async throws -> IDTokenPayload {
        let collection = JWTKeyCollection()
        try await collection.add(jwksJSON: jwks)
        return try await collection.verify(token, as: IDTokenPayload.self)
    }
}

struct IDTokenPayload: JWTPayload {
    var aud: AudienceClaim
    var iss: IssuerClaim
    var exp: ExpirationClaim
    var nonce: String?

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}
