import Foundation
import PortcullisCore
import Testing
@testable import PortcullisDevIdP

@Suite("Group overage and Graph")
struct GraphTests {
    @Test("an overage user's token has _claim_names instead of groups; Graph pages return all of them")
    func overage() async throws {
        try await TestIdP.with { idp in
            let json = try await idp.tokens(for: "carol")
            let claims = TestBase64URL.jwtPart(try #require(json["id_token"] as? String), 1)
            #expect(claims["groups"] == nil)
            #expect((claims["_claim_names"] as? [String: String])?["groups"] == "src1")
            let sources = try #require(claims["_claim_sources"] as? [String: [String: String]])
            #expect(sources["src1"]?["endpoint"] == "https://graph.windows.net/\(TestIdP.contoso)/users/ca201000-0000-4000-8000-000000000003/getMemberObjects")

            let accessToken = try #require(json["access_token"] as? String)
            var next: String? = "\(idp.base)/v1.0/me/transitiveMemberOf?$select=id"
            var groups: [String] = []
            var roles = 0
            var pages = 0
            while let url = next {
                let page = try await idp.send(url, headers: [("Authorization", "Bearer \(accessToken)")])
                #expect(page.status == 200)
                #expect(page.json["@odata.context"] is String)
                let values = try #require(page.json["value"] as? [[String: Any]])
                #expect(values.count <= 2)
                for object in values {
                    switch object["@odata.type"] as? String {
                    case "#microsoft.graph.group": groups.append(try #require(object["id"] as? String))
                    case "#microsoft.graph.directoryRole": roles += 1
                    default: Issue.record("unexpected object \(object)")
                    }
                }
                next = page.json["@odata.nextLink"] as? String
                if let next { #expect(next.hasPrefix("\(idp.base)/v1.0/me/transitiveMemberOf?$skiptoken=")) }
                pages += 1
                if pages > 10 { break }
            }
            let expected = idp.idp.directory.users.first { $0.key == "carol" }?.groups ?? []
            #expect(expected.count == 5)
            #expect(Set(groups) == Set(expected))
            #expect(groups.count == 5)
            #expect(roles == 1)
            #expect(pages == 3)
        }
    }

    @Test("Graph refuses a missing or unknown token with InvalidAuthenticationToken")
    func unauthenticated() async throws {
        try await TestIdP.with { idp in
            for headers in [[], [("Authorization", "Bearer nope")]] {
                let response = try await idp.send("/v1.0/me/transitiveMemberOf", headers: headers)
                #expect(response.status == 401)
                #expect((response.json["error"] as? [String: Any])?["code"] as? String == "InvalidAuthenticationToken")
            }
        }
    }

    @Test("an access token expires after an hour")
    func accessTokenExpiry() async throws {
        try await TestIdP.with { idp in
            let token = try #require(try await idp.tokens(for: "alice")["access_token"] as? String)
            #expect(try await idp.send("/v1.0/me/transitiveMemberOf", headers: [("Authorization", "Bearer \(token)")]).status == 200)
            idp.clock.advance(3601)
            #expect(try await idp.send("/v1.0/me/transitiveMemberOf", headers: [("Authorization", "Bearer \(token)")]).status == 401)
        }
    }
}
