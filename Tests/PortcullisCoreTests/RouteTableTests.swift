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
            // Tomcat and Jetty drop `;parameters` before mapping, so the route must too.
            (nil, "/app;jsessionid=x", "app"),
            (nil, "/app;x/y", "app"),
            (nil, "/app;x/api/v1", "app-api"),
            (nil, "/app/api;v=1", "app-api"),
            (nil, "/apps;x", "root"),
            (nil, "/app%3Bx/api", "app-api"),
            (nil, "/ap;x/p", "root"),
            ("fax.contoso.org", "/admin;jsessionid=1", "fax-admin"),
            ("fax.contoso.org", "/admin;jsessionid=1/users", "fax-admin"),
            // Matching is case-sensitive unless a route says otherwise.
            (nil, "/APP/x", "root"),
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

@Suite("Case-insensitive routes and prefix remainders")
struct CaseInsensitiveRouteTests {
    let table: RouteTable

    init() throws {
        let config = try loadConfig(
            #"""
            { "routes": [
                { "name": "root", "upstream": "http://u:1", "public": true },
                { "name": "iis", "host": "iis.example", "pathPrefix": "/admin", "caseInsensitive": true, "upstream": "http://u:2", "public": true },
                { "name": "linux", "host": "linux.example", "pathPrefix": "/admin", "upstream": "http://u:3", "public": true },
                { "name": "files", "pathPrefix": "/Files", "caseInsensitive": true, "upstream": "http://u:4", "public": true },
                { "name": "private", "pathPrefix": "/files/private", "upstream": "http://u:5", "public": true },
                { "name": "keys", "pathPrefix": "/files/private/keys", "caseInsensitive": true, "upstream": "http://u:6", "public": true },
                { "name": "docs-any-case", "pathPrefix": "/DOCS", "caseInsensitive": true, "upstream": "http://u:7", "public": true },
                { "name": "docs", "pathPrefix": "/docs", "upstream": "http://u:8", "public": true }
            ] }
            """#)
        table = RouteTable(routes: config.routes)
    }

    @Test(
        "a caseInsensitive prefix matches any ASCII case; the longest prefix still wins across both kinds",
        arguments: [
            ("iis.example", "/ADMIN/x", "iis"),
            ("iis.example", "/AdMiN;jsessionid=1", "iis"),
            ("iis.example", "/admin", "iis"),
            ("iis.example", "/ADMINS", "root"),
            ("linux.example", "/admin/x", "linux"),
            ("linux.example", "/ADMIN/x", "root"),
            (nil, "/FILES/x", "files"),
            (nil, "/files/private/x", "private"),
            (nil, "/files/PRIVATE/x", "files"),
            (nil, "/FILES/PRIVATE/KEYS", "keys"),
            (nil, "/files/private/keysx", "private"),
            (nil, "/files/private;x/keys;y/z", "keys"),
            // Of two equal-length prefixes that both match, the case-sensitive one is more specific.
            (nil, "/docs/x", "docs"),
            (nil, "/Docs/x", "docs-any-case"),
        ] as [(String?, String, String)])
    func matching(host: String?, path: String, expected: String) {
        #expect(table.match(host: host, path: Substring(path)).map { table.routes[$0].name } == expected)
    }

    @Test(
        "the remainder after a prefix drops the prefix's parameters and starts at a segment",
        arguments: [
            ("/app", "/app", false, ""), ("/app", "/app/x", false, "/x"), ("/app", "/app;j=1/x", false, "/x"),
            ("/app", "/app;j=1", false, ""), ("/a/b", "/a;x/b/c", false, "/c"), ("/a/b", "/a;x/b;y", false, ""),
            ("/app", "/apps", false, nil), ("/app", "/ap;x", false, nil), ("/a/b", "/a;x", false, nil),
            ("/", "/x;y", false, "/x;y"), ("/admin", "/ADMIN/x", true, "/x"), ("/admin", "/ADMIN/x", false, nil),
            ("/caf%C3%A9", "/CAF%C3%A9/x", true, "/x"), ("/app", "/app%3Bx/y", false, "/y"), ("/a/b", "/a%3Bx/b", false, ""),
            ("/app", "/app%3", false, nil), ("/app", "/app%", false, nil), ("/app", "/app%20", false, nil),
        ] as [(String, String, Bool, String?)])
    func remainder(prefix: String, path: String, caseInsensitive: Bool, expected: String?) {
        let rest = RouteTable.remainder(of: Substring(path), after: prefix, caseInsensitive: caseInsensitive)
        #expect(rest.map(String.init) == expected)
        #expect(RouteTable.prefix(prefix, matches: Substring(path), caseInsensitive: caseInsensitive) == (expected != nil))
    }

    @Test("caseInsensitive defaults to false and must be true or false")
    func configField() throws {
        let config = try loadConfig(#"{ "routes": [{ "upstream": "http://u", "public": true }] }"#)
        #expect(config.routes[0].caseInsensitive == false)
        do {
            _ = try loadConfig(#"{ "routes": [{ "upstream": "http://u", "public": true, "caseInsensitive": "yes" }] }"#)
            Issue.record("a string caseInsensitive was accepted")
        } catch {
            #expect(error.issues.contains { $0.description.hasPrefix("routes[0].caseInsensitive:") })
        }
    }

    /// Request paths are canonicalized before matching, so a prefix spelt otherwise would
    /// never match and its requests would fall through to a less specific route.
    @Test("a pathPrefix not in canonical form is a config error", arguments: ["/%61dmin", "/a//b", "/a%3fb", "/a/..;/b"])
    func nonCanonicalPrefix(prefix: String) {
        do {
            _ = try loadConfig(#"{ "routes": [{ "upstream": "http://u", "public": true, "pathPrefix": "\#(prefix)" }] }"#)
            Issue.record("pathPrefix \(prefix) was accepted")
        } catch {
            #expect(error.issues.contains { $0.description.hasPrefix("routes[0].pathPrefix:") })
        }
    }
}
