import Foundation
import Testing

@testable import PortcullisCore

/// Loads a config from a JSON string with a fixed environment.
func loadConfig(_ json: String, environment: [String: String] = [:]) throws(ConfigError) -> GatewayConfig {
    try GatewayConfig.load(
        Data(json.utf8), baseDirectory: URL(fileURLWithPath: NSTemporaryDirectory()),
        environment: { environment[$0] })
}

/// The problems a config has, as rendered lines.
func issues(_ json: String) -> [String] {
    do {
        _ = try loadConfig(json)
        return []
    } catch {
        return error.issues.map(\.description)
    }
}

let minimalRoute = #"{ "upstream": "http://127.0.0.1:9001", "public": true }"#

@Suite("Config validation")
struct ConfigValidationTests {
    @Test("a minimal config gets every default")
    func defaults() throws {
        let config = try loadConfig(#"{ "routes": [\#(minimalRoute)] }"#)
        #expect(config.listen.address == "127.0.0.1")
        #expect(config.listen.port == 8080)
        #expect(config.publicURL.origin == "http://127.0.0.1:8080")
        #expect(config.routes[0].pathPrefix == "/")
        #expect(config.routes[0].name == "routes[0]")
        #expect(config.routes[0].timeouts.connect == 5)
        #expect(config.routes[0].timeouts.response == 60)
        #expect(config.identityHeaders.user == "X-Forwarded-User")
        #expect(config.identityHeaders.email == "X-Forwarded-Email")
        #expect(config.identityHeaders.name == "X-Forwarded-Name")
        #expect(config.identityHeaders.roles == "X-Forwarded-Roles")
        #expect(config.identityHeaders.groups == "X-Forwarded-Groups")
        #expect(config.identityHeaders.permissions == "X-Forwarded-Permissions")
        #expect(config.identityHeaders.authMethod == "X-Auth-Method")
        #expect(config.limits.maxHeaderBytes == 32 * 1024)
        #expect(config.logging.format == "text")
        #expect(config.entra == nil && config.localUsers == nil && config.sso == SSOConfig())
        #expect(config.session.cookieName == "portcullis_session" && config.session.keys.isEmpty)
        #expect(config.session.idleTimeout == 8 * 3600 && config.session.absoluteTimeout == 24 * 3600)
    }

    @Test("the example in the issue: a non-http upstream names its field path")
    func upstreamScheme() {
        let json = #"""
            { "routes": [ \#(minimalRoute), \#(minimalRoute.replacingOccurrences(of: "}", with: ", \"pathPrefix\": \"/b\" }")),
              { "upstream": "ftp://x", "public": true, "pathPrefix": "/c" } ] }
            """#
        #expect(issues(json) == [#"routes[2].upstream: "ftp://x" is not an http(s) URL"#])
    }

    @Test(
        "each kind of bad value is reported with its path and reason",
        arguments: [
            (#"{ "routes": [\#(minimalRoute)], "listen": { "port": 70000 } }"#, "listen.port: 70000 is not a whole number from 0 to 65535"),
            (#"{ "routes": [\#(minimalRoute)], "listen": { "port": "80" } }"#, "listen.port: expected a number, found a string"),
            (#"{ "routes": [\#(minimalRoute)], "listen": { "port": 80.5 } }"#, "listen.port: 80.5 is not a whole number from 0 to 65535"),
            (#"{ "routes": [\#(minimalRoute)], "publicURL": "gopher://x" }"#, #"publicURL: "gopher://x" is not an http(s) URL"#),
            (#"{ "routes": [\#(minimalRoute)], "publicURL": "https://gw.example/app" }"#, #"publicURL: "https://gw.example/app" must have no path (the gateway serves the whole origin)"#),
            (#"{ "routes": [{ "upstream": "http://u:1", "public": "yes" }] }"#, "routes[0].public: expected true or false, found a string"),
            (#"{ "routes": [{ "public": true }] }"#, "routes[0].upstream: is required"),
            (#"{ "routes": [{ "upstream": "http://user:pw@u", "public": true }] }"#, #"routes[0].upstream: "http://user:pw@u" must not contain credentials"#),
            (#"{ "routes": [{ "upstream": "http://u?x=1", "public": true }] }"#, #"routes[0].upstream: "http://u?x=1" must not have a query or fragment"#),
            (#"{ "routes": [{ "upstream": "http://u", "public": true, "tls": { "insecureSkipVerify": true } }] }"#, "routes[0].tls: is for an https upstream; this one is http"),
            (#"{ "routes": [{ "upstream": "http://u", "public": true, "pathPrefix": "app" }] }"#, #"routes[0].pathPrefix: "app" must start with "/""#),
            (#"{ "routes": [{ "upstream": "http://u", "public": true, "pathPrefix": "/a/../b" }] }"#, #"routes[0].pathPrefix: "/a/../b" must be a plain canonical path (no query, dot segments, encoded separators, `//`, or percent-encoded letters and digits)"#),
            (#"{ "routes": [{ "upstream": "http://u", "public": true, "host": "https://x.org" }] }"#, #"routes[0].host: "https://x.org" is not a host name or *.domain pattern (no scheme, port or path)"#),
            (#"{ "routes": [{ "upstream": "http://u", "public": true, "timeouts": { "connect": 0 } }] }"#, "routes[0].timeouts.connect: 0 seconds is outside 0.05…300"),
            (#"{ "routes": [{ "upstream": "http://u" }] }"#, #"routes[0].public: the route is protected (public is false) but no sign-in method is configured; set "public": true or configure sign-in"#),
            (#"{ "routes": [\#(minimalRoute)], "identityHeaders": { "user": "X User" } }"#, #"identityHeaders.user: "X User" is not a valid header name"#),
            (#"{ "routes": [\#(minimalRoute)], "identityHeaders": { "email": "x_forwarded_user" } }"#, #"identityHeaders.email: "x_forwarded_user" is the same header as user"#),
            (#"{ "routes": [\#(minimalRoute)], "identityHeaders": { "user": "Connection" } }"#, #"identityHeaders.user: "Connection" is reserved by HTTP and cannot carry identity"#),
            (#"{ "routes": [\#(minimalRoute)], "identityHeaders": { "alsoStrip": ["ok", "b a d"] } }"#, #"identityHeaders.alsoStrip[1]: "b a d" is not a valid header name"#),
            (#"{ "routes": [\#(minimalRoute)], "logging": { "format": "xml" } }"#, #"logging.format: "xml" is not one of "text", "json""#),
            (#"{ "routes": [\#(minimalRoute)], "limits": { "maxHeaderBytes": 10 } }"#, "limits.maxHeaderBytes: 10 is not a whole number from 1024 to 1048576"),
            (#"{ "routes": [\#(minimalRoute)], "upstreamPool": [] }"#, "upstreamPool: expected an object, found an array"),
            (#"{ "routes": [\#(minimalRoute)], "session": { "store": { "type": "postgres", "url": "postgres://u@db/x" } } }"#, "session.store: a postgres store needs session.keysFile: every instance must open the others' cookies, and stored refresh tokens are sealed with those keys"),
            (#"{ "routes": [\#(minimalRoute)], "session": { "store": { "type": "memory", "url": "postgres://u@db/x" } } }"#, #"session.store: url, urlFile and urlEnv are for type "postgres""#),
            (#"{ "routes": [\#(minimalRoute)], "session": { "store": { "type": "redis" } } }"#, #"session.store.type: "redis" is not one of "memory", "postgres""#),
            (#"{ "routes": [\#(minimalRoute)], "session": { "cookieDomain": ".contoso.example" } }"#, #"session.cookieDomain: ".contoso.example" is not a domain name (such as "contoso.example", no scheme, port or leading dot)"#),
            (#"{ "routes": [\#(minimalRoute)], "publicURL": "https://gw.contoso.example", "session": { "cookieDomain": "fabrikam.example" } }"#, #"session.cookieDomain: "fabrikam.example" does not cover the public URL's host "gw.contoso.example" (the browser would refuse the cookie)"#),
            (#"{ "routes": [\#(minimalRoute)], "session": { "revalidateEvery": 5 } }"#, "session.revalidateEvery: 5 seconds is outside 10…86400"),
            (#"{ "routes": {} }"#, "routes: expected an array, found an object"),
            (#"{ "routes": [42] }"#, "routes[0]: expected an object, found a number"),
            (#"{ }"#, "routes: at least one route is required"),
            (#"{ "routes": [] }"#, "routes: at least one route is required"),
            (#"[1]"#, "the config must be a JSON object, found an array"),
        ])
    func badValue(json: String, expected: String) {
        #expect(issues(json) == [expected])
    }

    @Test("a postgres store URL: inline only without a password, which belongs in urlFile or urlEnv and is never shown")
    func storeURL() throws {
        let keys = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pc-keys-\(UUID().uuidString)")
        try Data((Data(repeating: 7, count: 32).base64EncodedString() + "\n").utf8).write(to: keys)
        let withPassword = #"{ "routes": [\#(minimalRoute)], "session": { "keysFile": "\#(keys.path)", "store": { "type": "postgres", "url": "postgres://u:s3cret@db/x" } } }"#
        let problems = issues(withPassword)
        #expect(problems == ["session.store.url: holds a password: put the URL in urlFile or urlEnv instead, so the config can be shown without it"])
        #expect(!problems.joined().contains("s3cret"))
        let fromEnv = #"{ "routes": [\#(minimalRoute)], "session": { "keysFile": "\#(keys.path)", "store": { "type": "postgres", "urlEnv": "PG" } } }"#
        let config = try loadConfig(fromEnv, environment: ["PG": "postgres://u:s3cret@db/x"])
        #expect(config.session.store.kind == .postgres)
        #expect(config.session.store.url?.value == "postgres://u:s3cret@db/x")
        #expect(!"\(config.session.store)".contains("s3cret"))
        #expect(issues(#"{ "routes": [\#(minimalRoute)], "session": { "keysFile": "\#(keys.path)", "store": { "type": "postgres" } } }"#)
            == [#"session.store: type "postgres" needs url, urlFile or urlEnv"#])
    }

    @Test("array elements are named by their position in the file")
    func arrayIndices() {
        #expect(
            issues(#"{ "routes": [\#(minimalRoute)], "identityHeaders": { "alsoStrip": ["ok", 3, "b a d"] } }"#) == [
                "identityHeaders.alsoStrip[1]: expected a string, found a number",
                #"identityHeaders.alsoStrip[2]: "b a d" is not a valid header name"#,
            ])
    }

    @Test("unknown keys are errors, with a suggestion for near misses")
    func unknownKeys() {
        let found = issues(#"{ "routes": [{ "upstream": "http://u", "pubic": true }], "lisen": {}, "zzz": 1 }"#)
        #expect(found.contains(#"lisen: unknown field (did you mean "listen"?)"#))
        #expect(found.contains("zzz: unknown field"))
        #expect(found.contains(#"routes[0].pubic: unknown field (did you mean "public"?)"#))
    }

    @Test("sso given as {} or null takes its defaults; localUsers needs its file")
    func breakGlassSections() {
        #expect(issues(#"{ "routes": [\#(minimalRoute)], "sso": {} }"#).isEmpty)
        #expect(issues(#"{ "routes": [\#(minimalRoute)], "localUsers": null, "sso": null }"#).isEmpty)
        #expect(issues(#"{ "routes": [\#(minimalRoute)], "localUsers": {} }"#).first?.hasPrefix("localUsers.file: required") == true)
    }

    static let entraBase = #""clientId": "c", "clientSecretEnv": "PATH""#

    @Test("entra: field problems name their paths", arguments: [
        (#"{ "clientId": "c", "clientSecretEnv": "PATH" }"#, #"entra.tenant: required: a tenant GUID, a verified domain, "organizations" or "common""#),
        (#"{ "tenant": "bad tenant!", \#(entraBase) }"#, #"entra.tenant: "bad tenant!" is not a tenant GUID, a domain name, "organizations" or "common""#),
        (#"{ "tenant": "consumers", \#(entraBase) }"#, #"entra.tenant: "consumers" admits personal Microsoft accounts only; use a tenant, "organizations" or "common""#),
        (#"{ "tenant": "organizations", "allowedTenants": ["contoso"], \#(entraBase) }"#, #"entra.allowedTenants[0]: "contoso" is not a tenant GUID"#),
        (#"{ "tenant": "contoso.example", "clientSecretEnv": "PATH" }"#, "entra.clientId: required: the application (client) id of the app registration"),
        (#"{ "tenant": "contoso.example", "clientId": "c" }"#, "entra: a client credential is required: clientSecretFile, clientSecretEnv or clientCertificate"),
        (#"{ "tenant": "contoso.example", \#(entraBase), "scopes": ["profile"] }"#, #"entra.scopes: must include "openid" (without it there is no ID token)"#),
        (#"{ "tenant": "contoso.example", \#(entraBase), "groupsOverage": "graph" }"#, #"entra.groupsOverage: "graph" needs the "User.Read" scope in scopes to call Microsoft Graph"#),
        (#"{ "tenant": "contoso.example", \#(entraBase), "responseMode": "fragment" }"#, #"entra.responseMode: "fragment" is not one of "query", "form_post""#),
        (#"{ "tenant": "contoso.example", \#(entraBase), "authority": "login.example" }"#, #"entra.authority: "login.example" is not an http(s) URL"#),
        (#"{ "tenant": "contoso.example", \#(entraBase), "username": { "claim": "sub" } }"#, #"entra.username.claim: "sub" is not one of "preferred_username", "upn", "email", "oid""#),
        (#"{ "tenant": "contoso.example", \#(entraBase), "username": { "transforms": ["trim"] } }"#, #"entra.username.transforms[0]: "trim" is not one of "lowercase", "uppercase", "stripDomain""#),
        (#"{ "tenant": "contoso.example", \#(entraBase), "username": { "overrides": { "a@b": " JDOE" } } }"#, "entra.username.overrides.a@b: the username starts or ends with whitespace"),
        (#"{ "tenant": "contoso.example", \#(entraBase), "clientCertificate": { "certificateFile": "x.pem" } }"#, #"entra.clientCertificate.certificateFile: cannot read "x.pem""#),
    ])
    func entraErrors(_ entra: String, _ expected: String) {
        let found = issues(#"{ "routes": [\#(minimalRoute)], "entra": \#(entra) }"#)
        #expect(found.contains(expected), "\(found)")
    }

    @Test("entra makes protected routes valid; defaults are Entra's")
    func entraDefaults() throws {
        let config = try loadConfig(
            #"{ "routes": [{ "upstream": "http://127.0.0.1:9001" }], "entra": { "tenant": "contoso.example", \#(Self.entraBase) } }"#,
            environment: ["PATH": "a-secret"])
        let entra = try #require(config.entra)
        #expect(entra.effectiveDiscoveryURL == "https://login.microsoftonline.com/contoso.example/v2.0/.well-known/openid-configuration")
        #expect(entra.scopes == ["openid", "profile", "email", "offline_access"])
        #expect(entra.responseMode == .query && entra.groupsOverage == .deny && !entra.isMultiTenant)
        #expect(entra.username.claim == .preferredUsername)
        #expect(!config.routes[0].isPublic)
        #expect(issues(#"{ "routes": [{ "upstream": "http://127.0.0.1:9001" }] }"#).contains { $0.hasPrefix("routes[0].public:") })
    }

    @Test("session and return-host problems name their paths")
    func sessionErrors() {
        let found = issues(
            #"{ "routes": [\#(minimalRoute)], "session": { "cookieName": "a b", "idleTimeout": 5, "keysFile": "missing.keys" }, "allowedReturnHosts": ["ok.example", "http://x/"] }"#)
        #expect(found.contains(#"session.cookieName: "a b" is not a valid cookie name (letters, digits, - and _)"#), "\(found)")
        #expect(found.contains { $0.hasPrefix("session.idleTimeout:") })
        #expect(found.contains(#"session.keysFile: cannot read "missing.keys""#))
        #expect(found.contains { $0.hasPrefix("allowedReturnHosts[1]:") })
        #expect(!found.contains { $0.hasPrefix("allowedReturnHosts[0]") })
    }

    @Test("every problem is reported at once")
    func allErrorsAtOnce() {
        let found = issues(
            #"{ "listen": { "port": -1 }, "routes": [{ "upstream": "ftp://a", "public": true }, { "public": 1, "pathPrefix": "/b" }], "logging": { "level": "loud" } }"#)
        #expect(found.count == 5, "\(found)")
        #expect(found.contains { $0.hasPrefix("listen.port:") })
        #expect(found.contains { $0.hasPrefix("routes[0].upstream:") })
        #expect(found.contains { $0.hasPrefix("routes[1].upstream:") })
        #expect(found.contains { $0.hasPrefix("routes[1].public:") })
        #expect(found.contains { $0.hasPrefix("logging.level:") })
    }

    @Test("duplicate route names and unreachable duplicate matches are errors")
    func duplicateRoutes() {
        let found = issues(
            #"{ "routes": [{ "name": "a", "upstream": "http://u", "public": true }, { "name": "a", "upstream": "http://v", "public": true }] }"#)
        #expect(found.contains(#"routes[1].name: "a" is already the name of routes[0]"#))
        #expect(found.contains("routes[1]: matches the same host and pathPrefix as routes[0], so it could never be chosen"))
    }

    @Test("malformed JSON is a clear error, not a crash")
    func malformedJSON() {
        let found = issues(#"{ "routes": [ "#)
        #expect(found.count == 1)
        #expect(found[0].hasPrefix("not valid JSON"))
    }
}

/// A section with a secret, to test the `…File`/`…Env` mechanism later sections use.
struct SecretHolder: ConfigSection {
    static var fields: [ConfigField] { [.value("clientSecretFile"), .value("clientSecretEnv")] }
    var secret: Secret?
    init(reading reader: ConfigObjectReader) { secret = reader.secret("clientSecret") }
}

@Suite("Config secrets")
struct ConfigSecretTests {
    func read(_ object: [String: JSONValue], environment: [String: String] = [:], base: URL) -> (Secret?, [String]) {
        let collector = ConfigIssueCollector()
        let reader = ConfigObjectReader(
            path: "entra", values: object, issues: collector, baseDirectory: base, environment: { environment[$0] })
        let holder = SecretHolder(reading: reader)
        return (holder.secret, collector.issues.map(\.description))
    }

    @Test("secrets come from a file or the environment and never print")
    func sources() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pc-secret-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "s3cr3t\n".write(to: dir.appendingPathComponent("secret.txt"), atomically: true, encoding: .utf8)

        let fromFile = read(["clientSecretFile": .string("secret.txt")], base: dir)
        #expect(fromFile.0?.value == "s3cr3t")
        #expect(fromFile.1.isEmpty)
        #expect("\(fromFile.0!)" == "<secret>")

        let fromEnv = read(["clientSecretEnv": .string("PC_SECRET")], environment: ["PC_SECRET": "abc"], base: dir)
        #expect(fromEnv.0?.value == "abc")

        #expect(read(["clientSecretEnv": .string("PC_MISSING")], base: dir).1 == ["entra.clientSecretEnv: environment variable PC_MISSING is not set or empty"])
        #expect(read(["clientSecretFile": .string("nope.txt")], base: dir).1 == [#"entra.clientSecretFile: cannot read "nope.txt""#])
        #expect(
            read(["clientSecretFile": .string("secret.txt"), "clientSecretEnv": .string("X")], base: dir).1
                == ["entra: give either clientSecretFile or clientSecretEnv, not both"])
    }
}
