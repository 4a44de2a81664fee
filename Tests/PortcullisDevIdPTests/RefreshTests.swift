import Foundation
import PortcullisCore
import Testing
@testable import PortcullisDevIdP

@Suite("Refresh tokens")
struct RefreshTests {
    @Test("refresh rotates: a new token is issued and the used one is refused")
    func rotation() async throws {
        try await TestIdP.with { idp in
            let first = try #require(try await idp.tokens(for: "alice")["refresh_token"] as? String)
            let response = try await idp.refresh(first)
            #expect(response.status == 200)
            let second = try #require(response.json["refresh_token"] as? String)
            #expect(second != first)
            let claims = TestBase64URL.jwtPart(try #require(response.json["id_token"] as? String), 1)
            #expect(claims["nonce"] == nil)
            #expect(claims["aud"] as? String == TestIdP.clientID)

            let reused = try await idp.refresh(first)
            #expect(reused.status == 400)
            #expect(reused.json["error"] as? String == "invalid_grant")
            #expect(try await idp.refresh(second).status == 200)
        }
    }

    @Test("a refreshed ID token reflects updateUser (role removed, group added)")
    func reflectsDirectoryChanges() async throws {
        try await TestIdP.with { idp in
            let token = try #require(try await idp.tokens(for: "alice")["refresh_token"] as? String)
            idp.idp.updateUser(key: "alice") { user in
                user.roles.removeAll { $0 == "Repairs.Write" }
                user.groups.append("9a000000-0000-4000-8000-000000000009")
            }
            #expect(idp.idp.directory.users.first { $0.key == "alice" }?.roles == ["Repairs.Read"])
            let response = try await idp.refresh(token)
            let claims = TestBase64URL.jwtPart(try #require(response.json["id_token"] as? String), 1)
            #expect(claims["roles"] as? [String] == ["Repairs.Read"])
            #expect((claims["groups"] as? [String])?.contains("9a000000-0000-4000-8000-000000000009") == true)
        }
    }

    @Test("a disabled user's refresh fails with invalid_grant AADSTS50057")
    func disabledUser() async throws {
        try await TestIdP.with { idp in
            let token = try #require(try await idp.tokens(for: "bob")["refresh_token"] as? String)
            idp.idp.updateUser(key: "bob") { $0.disabled = true }
            let response = try await idp.refresh(token)
            #expect(response.status == 400)
            #expect(response.json["error"] as? String == "invalid_grant")
            #expect(response.json["error_codes"] as? [Int] == [50057])
            #expect((response.json["error_description"] as? String)?.hasPrefix("AADSTS50057:") == true)
        }
    }

    @Test("a refresh token only works for the client it was issued to")
    func boundToClient() async throws {
        var directory = TestIdP.directory
        directory.clients.append(DevIdPClient(clientId: "other-client", clientSecret: "other", redirectURIs: ["https://other.test/cb"]))
        try await TestIdP.with(directory: directory) { idp in
            let token = try #require(try await idp.tokens(for: "alice")["refresh_token"] as? String)
            let response = try await idp.postForm(
                "/common/oauth2/v2.0/token",
                [("grant_type", "refresh_token"), ("client_id", "other-client"), ("client_secret", "other"), ("refresh_token", token)])
            #expect(response.json["error"] as? String == "invalid_grant")
            #expect(try await idp.refresh(token).status == 200)
        }
    }
}
