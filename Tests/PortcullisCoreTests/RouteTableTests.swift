import Foundation
import Testing

@testable import PortcullisCore

@Suite("Route matching")
struct RouteTableTests {
    let table: RouteTable

    init() throws {
        let config = try loadConfig(
            #"""
            { "routes": [
                { "name": "root", "upstream": "http://u:1", "public": true },
                { "name": "app", "pathPrefix": "/app", "upstream": "http://u:2", "public": true },
                { "name": "app-api", "pathPrefix": "/app/api/", "upstream": "http://u:3", "public": true },
                { "name": "fax", "host": "fax.contoso.org", "upstream": "http://u:4", "public": true },
                { "name": "fax-admin", "host": "fax.contoso.org", "pathPrefix": "/admin", "upstream": "http://u:5", "public": true },
                { "name": "wild", "host": "*.contoso.org", "upstream": "http://u:6", "public": true },
                { "name": "wild-app", "host": "*.contoso.org", "pathPrefix": "/app", "upstream": "http://u:7", "public": true }
            ] }
            """#)
        table = RouteTable(routes: config.routes)
    }

    func route(_ host: String?, _ path: Substring) -> String? {
        table.match(host: host, path: path).map { table.routes[$0].name }
    }

    @Test(
        "host tier first, then the longest whole-segment prefix",
        arguments: [
            (nil, "/", "root"),
            (nil, "/app", "app"),
            (nil, "/app/", "app"),
            (nil, "/app/x", "app"),
            (nil, "/apps", "root"),
            (nil, "/app/api", "app-api"),
            (nil, "/app/api/v1", "app-api"),
            ("fax.contoso.org", "/", "fax"),
            ("FAX.Contoso.org:8443", "/admin/users", "fax-admin"),
            ("fax.contoso.org.", "/administrator", "fax"),
            ("fax.contoso.org", "/app/x", "fax"),
            ("crm.contoso.org", "/app/x", "wild-app"),
            ("crm.contoso.org", "/other", "wild"),
            ("a.b.contoso.org", "/other", "root"),
            ("contoso.org", "/app", "app"),
            ("elsewhere.example", "/app/api/x", "app-api"),
            ("[::1]:8080", "/", "root"),
        ] as [(String?, String, String)])
    func matching(host: String?, path: String, expected: String) {
        #expect(route(host, Substring(path)) == expected)
    }

    @Test("no route for a path no prefix covers")
    func noMatch() throws {
        let config = try loadConfig(#"{ "routes": [{ "pathPrefix": "/only", "upstream": "http://u", "public": true }] }"#)
        let table = RouteTable(routes: config.routes)
        #expect(table.match(host: "x", path: "/") == nil)
        #expect(table.match(host: "x", path: "/onlyx") == nil)
        #expect(table.match(host: "x", path: "/only/y") == 0)
    }
}

@Suite("Route access policy (allow)")
struct AccessPolicyTests {
    let alice = Identity(
        username: "alice@contoso.example", email: "Alice@Contoso.Example", tenantId: "7C000000-0000-4000-8000-000000000001",
        roles: ["Repairs.Read"], groups: ["9A000000-0000-4000-8000-000000000001"], method: .sso)

    @Test("any one matching entry admits; nothing matching refuses")
    func matching() {
        #expect(AccessPolicy(roles: ["Repairs.Read"]).allows(alice))
        #expect(!AccessPolicy(roles: ["repairs.read"]).allows(alice))  // role values are exact
        #expect(AccessPolicy(groups: ["9a000000-0000-4000-8000-000000000001"]).allows(alice))
        #expect(AccessPolicy(users: ["ALICE@contoso.example"]).allows(alice))
        #expect(AccessPolicy(emailDomains: ["contoso.example"]).allows(alice))
        #expect(!AccessPolicy(emailDomains: ["example"]).allows(alice))
        #expect(AccessPolicy(tenants: ["7c000000-0000-4000-8000-000000000001"]).allows(alice))
        #expect(!AccessPolicy(roles: ["Repairs.Write"], groups: ["other"], users: ["bob"], emailDomains: ["fabrikam.example"]).allows(alice))
        var noEmail = alice
        noEmail.email = nil
        #expect(!AccessPolicy(emailDomains: ["contoso.example"]).allows(noEmail))
    }

    @Test("an empty allow, or allow on a public route, is a config error naming the field")
    func validation() throws {
        let base = #"{ "routes": [ { "upstream": "http://127.0.0.1:9001", "public": true, "allow": { "roles": ["X"] } } ] }"#
        #expect(throws: ConfigError.self) { try GatewayConfig.load(Data(base.utf8)) }
        do {
            _ = try GatewayConfig.load(Data(base.utf8))
        } catch {
            #expect(error.issues.contains { $0.description.hasPrefix("routes[0].allow:") && $0.description.contains("public route") })
        }
        let empty = #"{ "routes": [ { "upstream": "http://127.0.0.1:9001", "allow": {} } ] }"#
        do {
            _ = try GatewayConfig.load(Data(empty.utf8))
            Issue.record("an empty allow was accepted")
        } catch {
            #expect(error.issues.contains { $0.description.hasPrefix("routes[0].allow:") && $0.description.contains("lists no one") })
        }
    }
}
