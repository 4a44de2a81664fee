import Foundation
import Testing
@testable import PortcullisDevIdP

@Suite("Logout and robustness")
struct LogoutAndRobustnessTests {
    @Test("logout with id_token_hint loads the front-channel URL with iss and sid, then returns with state")
    func frontChannelLogout() async throws {
        try await TestIdP.with { idp in
            let (code, verifier, sid) = try await idp.signIn("alice")
            let idToken = try #require(try await idp.redeem(code, verifier: verifier).json["id_token"] as? String)
            let url =
                "/\(TestIdP.contoso)/oauth2/v2.0/logout?id_token_hint=\(idToken)&post_logout_redirect_uri="
                + TestIdP.encode(TestIdP.postLogoutURI) + "&state=bye"
            let page = try await idp.send(url)
            #expect(page.status == 200)
            #expect(page.body.contains("You signed out"))
            #expect(page.body.contains("not for production"))
            let iss = TestIdP.encode("\(idp.base)/\(TestIdP.contoso)/v2.0")
            #expect(page.body.contains("<iframe src=\"\(TestIdP.frontchannelURL)?iss=\(iss)&amp;sid=\(sid)\""))
            #expect(page.body.contains("href=\"\(TestIdP.postLogoutURI)?state=bye\""))
            #expect(page.body.contains("http-equiv=\"refresh\""))
        }
    }

    @Test("logout never redirects to an unregistered post_logout_redirect_uri")
    func unregisteredPostLogout() async throws {
        try await TestIdP.with { idp in
            let url = "/common/oauth2/v2.0/logout?client_id=\(TestIdP.clientID)&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"
            let page = try await idp.send(url)
            #expect(page.status == 200)
            #expect(!page.body.contains("href=\"https://evil.example/"))
            #expect(!page.body.contains("http-equiv=\"refresh\""))
        }
    }

    @Test("unknown paths are 404, bodies over 64 KiB are 413, malformed encodings are 400")
    func badInput() async throws {
        try await TestIdP.with { idp in
            #expect(try await idp.send("/nope").status == 404)
            #expect(try await idp.send("/\(TestIdP.contoso)/oauth2/v2.0/nope").status == 404)
            let huge = try await idp.send(
                "/common/oauth2/v2.0/token", method: "POST", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: String(repeating: "a", count: 70 * 1024))
            #expect(huge.status == 413)
            let badForm = try await idp.send(
                "/common/oauth2/v2.0/token", method: "POST", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: "grant_type=%zz")
            #expect(badForm.status == 400)
            #expect(try await idp.send("/common/oauth2/v2.0/authorize?client_id=%G1").status == 400)
            let empty = try await idp.postForm("/common/oauth2/v2.0/token", [])
            #expect(empty.status == 400)
            #expect(try await idp.send("/common/oauth2/v2.0/token").status == 400)
            // Still serving after all that.
            #expect(try await idp.send("/common/v2.0/.well-known/openid-configuration").status == 200)
        }
    }

    @Test("a directory file round-trips through JSON with optional fields omitted")
    func directoryFile() throws {
        let json = """
            {"tenants":[{"id":"t1","domains":["a.example"]}],
             "clients":[{"clientId":"c","redirectURIs":["https://x/cb"]}],
             "users":[{"key":"u","preferredUsername":"u@a.example","name":"U","oid":"o","tid":"t1"}]}
            """
        let directory = try JSONDecoder().decode(DevIdPDirectory.self, from: Data(json.utf8))
        #expect(directory.users[0].roles.isEmpty && !directory.users[0].groupOverage && !directory.users[0].disabled)
        #expect(directory.clients[0].postLogoutRedirectURIs.isEmpty)
        #expect(directory.problems.isEmpty)
        let encoded = try JSONEncoder().encode(TestIdP.directory)
        let decoded = try JSONDecoder().decode(DevIdPDirectory.self, from: encoded)
        #expect(decoded.users == TestIdP.directory.users)
        var broken = directory
        broken.users.append(broken.users[0])
        #expect(broken.problems.count == 1)
    }
}
