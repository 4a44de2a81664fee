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
