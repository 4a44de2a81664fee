import Foundation
import Testing

@testable import PortcullisCore

/// The `localUsers`, `sso` and `trustedProxies` sections, each config in a fresh folder with
/// its users file beside it.
@Suite("Break-glass configuration")
struct BreakGlassConfigTests {
    static let entra = #""entra": { "tenant": "contoso.example", "clientId": "c", "clientSecretEnv": "S" }"#
    static let protectedRoute = #""routes": [{ "upstream": "http://127.0.0.1:9001" }]"#
    static let users = usersFile(
        user(#""username": "breakglass", "email": "bg@contoso.example""#),
        user(#""username": "desk""#),
        user(#""username": "retired", "disabled": true"#))

    /// Loads `json` from a new folder holding `users.json` with `usersJSON`.
    static func load(_ json: String, users usersJSON: String? = users) throws(ConfigError) -> GatewayConfig {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        if let usersJSON { try! Data(usersJSON.utf8).write(to: folder.appendingPathComponent("users.json")) }
        return try GatewayConfig.load(Data(json.utf8), baseDirectory: folder, environment: { $0 == "S" ? "secret" : nil })
    }

    static func issues(_ json: String, users usersJSON: String? = users) -> [String] {
        do {
            _ = try load(json, users: usersJSON)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test("absent sections: SSO on with defaults, no local users, no trusted proxies")
    func defaults() throws {
        let config = try Self.load(#"{ \#(Self.protectedRoute), \#(Self.entra) }"#)
        #expect(config.sso == SSOConfig())
        #expect(config.sso.enabled && config.sso.excludedUsers.isEmpty && !config.sso.offEndsSessions)
        #expect(config.sso.autoFallbackAfter == nil && config.sso.loginPage == .direct && config.sso.domainHint == nil)
        #expect(config.sso.branding == BrandingConfig(productName: "Portcullis"))
        #expect(config.localUsers == nil)
        #expect(config.trustedProxies == .none)
        let empty = try Self.load(#"{ \#(Self.protectedRoute), \#(Self.entra), "sso": {}, "trustedProxies": [] }"#)
        #expect(empty.sso == SSOConfig())
    }

    @Test("local users alone are a sign-in method; the users file is read, resolved and watched")
    func localUsersOnly() throws {
        let config = try Self.load(#"{ \#(Self.protectedRoute), "localUsers": { "file": "users.json" }, "sso": { "enabled": false } }"#)
        #expect(config.hasSignIn)
        let local = try #require(config.localUsers)
        #expect(local.directory.users.map(\.username) == ["breakglass", "desk", "retired"])
        #expect(local.file == "users.json")
        #expect(local.resolvedPath.hasPrefix("/") && local.resolvedPath.hasSuffix("/users.json"))
        #expect(config.referencedFiles.contains(local.resolvedPath))
        #expect(local.lockout == LockoutConfig())
        #expect(local.lockout.maxFailures == 5 && local.lockout.window == 900 && local.lockout.duration == 900)
        #expect(local.lockout.backoffBase == 1 && local.lockout.backoffMax == 30)
    }

    @Test("every field read")
    func everyField() throws {
        let config = try Self.load(#"""
            { \#(Self.protectedRoute), \#(Self.entra),
              "localUsers": { "file": "users.json", "lockout": { "maxFailures": 3, "window": 60, "duration": 120, "backoffBase": 0.5, "backoffMax": 8 } },
              "sso": { "enabled": true, "excludedUsers": [" BreakGlass ", "ＢＧ@contoso.example"], "offEndsSessions": true,
                       "autoFallbackAfter": 4, "loginPage": "emailFirst", "domainHint": "Contoso.Example",
                       "branding": { "productName": "Contoso Apps", "logoURL": "https://cdn.contoso.example/logo.svg?v=2",
                                     "helpText": "Line one.\nLine two.", "supportContact": "+1 555 0100" } },
              "trustedProxies": ["10.0.0.0/8", "::1", "192.0.2.7"] }
            """#)
        #expect(config.localUsers?.lockout == LockoutConfig(maxFailures: 3, window: 60, duration: 120, backoffBase: 0.5, backoffMax: 8))
        #expect(config.sso == SSOConfig(
            enabled: true, excludedUsers: ["breakglass", "bg@contoso.example"], offEndsSessions: true, autoFallbackAfter: 4,
            loginPage: .emailFirst, domainHint: "contoso.example",
            branding: BrandingConfig(
                productName: "Contoso Apps", logoURL: "https://cdn.contoso.example/logo.svg?v=2", helpText: "Line one.\nLine two.",
                supportContact: "+1 555 0100")))
        #expect(config.trustedProxies.blocks.map(\.description) == ["10.0.0.0/8", "::1/128", "192.0.2.7/32"])
        #expect(config.trustedProxies.contains("10.2.3.4") && !config.trustedProxies.contains("192.0.2.8"))
    }

    @Test("a broken users file is a config error under localUsers.file")
    func brokenUsersFile() {
        let bad = usersFile(user(#""username": "ok""#), #"{ "username": "x", "passwordHash": "hunter2" }"#)
        #expect(Self.issues(#"{ \#(Self.protectedRoute), \#(Self.entra), "localUsers": { "file": "users.json" }, "sso": { "excludedUsers": ["ok", "x"] } }"#, users: bad)
            == ["localUsers.file: users[1].passwordHash: not a bcrypt hash"],
            "and no cascade of excludedUsers errors from the users it could not read")
        let found = Self.issues(#"{ \#(Self.protectedRoute), \#(Self.entra), "localUsers": { "file": "users.json" } }"#, users: "{ nope")
        #expect(found.count == 1 && found[0].hasPrefix("localUsers.file: not valid JSON"))
    }

    @Test("problems name their paths", arguments: [
        (#""localUsers": {}"#, "localUsers.file: required: the users file (JSON, { \"users\": [ … ] })"),
        (#""localUsers": { "file": "missing.json" }"#, #"localUsers.file: cannot read "missing.json""#),
        (#""localUsers": { "file": "users.json", "lockout": { "maxFailures": 0 } }"#, "localUsers.lockout.maxFailures: 0 is not a whole number from 1 to 100"),
        (#""localUsers": { "file": "users.json", "lockout": { "maxFailures": 101 } }"#, "localUsers.lockout.maxFailures: 101 is not a whole number from 1 to 100"),
        (#""localUsers": { "file": "users.json", "lockout": { "backoffBase": 61 } }"#, "localUsers.lockout.backoffBase: 61 seconds is outside 0…60"),
        (#""localUsers": { "file": "users.json", "lockout": { "backoffBase": 10, "backoffMax": 5 } }"#, "localUsers.lockout.backoffMax: must be at least backoffBase (10)"),
        (#""localUsers": { "file": "users.json", "lockout": { "window": 0 } }"#, "localUsers.lockout.window: 0 seconds is outside 1…86400"),
        (#""localUsers": { "file": "users.json", "lockot": {} }"#, #"localUsers.lockot: unknown field (did you mean "lockout"?)"#),
        (#""sso": { "enabeld": false }"#, #"sso.enabeld: unknown field (did you mean "enabled"?)"#),
        (#""sso": { "enabled": "no" }"#, "sso.enabled: expected true or false, found a string"),
        (#""sso": { "enabled": false }"#, "sso.enabled: false turns single sign-on off, so only local users could sign in, but localUsers is not configured"),
        (#""sso": { "excludedUsers": ["breakglass"] }"#, "sso.excludedUsers: the users listed here sign in with a local password, so localUsers is required"),
        (#""localUsers": { "file": "users.json" }, "sso": { "excludedUsers": ["desk", "Nobody"] }"#, #"sso.excludedUsers[1]: "Nobody" is not a local user"#),
        (#""localUsers": { "file": "users.json" }, "sso": { "excludedUsers": ["desk", " "] }"#, "sso.excludedUsers[1]: must not be empty"),
        (#""localUsers": { "file": "users.json" }, "sso": { "excludedUsers": [7] }"#, "sso.excludedUsers[0]: expected a string, found a number"),
        (#""sso": { "autoFallbackAfter": 3 }"#, "sso.autoFallbackAfter: falls back to local passwords, so localUsers is required"),
        (#""localUsers": { "file": "users.json" }, "sso": { "autoFallbackAfter": 0 }"#, "sso.autoFallbackAfter: 0 is not a whole number from 1 to 100"),
        (#""localUsers": { "file": "users.json" }, "sso": { "autoFallbackAfter": 101 }"#, "sso.autoFallbackAfter: 101 is not a whole number from 1 to 100"),
        (#""sso": { "loginPage": "popup" }"#, #"sso.loginPage: "popup" is not one of "direct", "emailFirst""#),
        (#""sso": { "domainHint": "https://contoso.example" }"#, #"sso.domainHint: "https://contoso.example" is not a domain name (such as "contoso.example")"#),
        (#""sso": { "branding": { "productName": "" } }"#, "sso.branding.productName: must be 1 to 100 characters, without control characters"),
        (#""sso": { "branding": { "logoURL": "http://cdn.example/logo.png" } }"#, #"sso.branding.logoURL: "http://cdn.example/logo.png" must be an https URL or a path starting with / (no spaces or quotes)"#),
        (#""sso": { "branding": { "logoURL": "//evil.example/logo.png" } }"#, #"sso.branding.logoURL: "//evil.example/logo.png" must be an https URL or a path starting with / (no spaces or quotes)"#),
        (#""sso": { "branding": { "logoURL": "javascript:alert(1)" } }"#, #"sso.branding.logoURL: "javascript:alert(1)" must be an https URL or a path starting with / (no spaces or quotes)"#),
        (#""sso": { "branding": { "logoURL": "/logo.svg\" onload=\"x" } }"#, #"sso.branding.logoURL: "/logo.svg\" onload=\"x" must be an https URL or a path starting with / (no spaces or quotes)"#),
        (#""sso": { "branding": { "helpText": "a\u0007b" } }"#, "sso.branding.helpText: must be 1 to 2000 characters, without control characters other than newlines"),
        (#""sso": { "branding": { "supportContact": "a\nb" } }"#, "sso.branding.supportContact: must be 1 to 200 characters, without control characters"),
        (#""sso": { "branding": { "colour": "red" } }"#, "sso.branding.colour: unknown field"),
        (#""trustedProxies": ["10.0.0.0/8", "::1/128", "10.0.0.1/8"]"#, #"trustedProxies[2]: "10.0.0.1/8" has bits set past the /8 prefix (did you mean 10.0.0.0/8?)"#),
        (#""trustedProxies": [8]"#, "trustedProxies[0]: expected a string, found a number"),
        (#""trustedProxies": "10.0.0.0/8""#, "trustedProxies: expected an array of strings, found a string"),
    ])
    func problems(fields: String, expected: String) {
        #expect(Self.issues(#"{ \#(Self.protectedRoute), \#(Self.entra), \#(fields) }"#) == [expected])
    }

    @Test("SSO off needs someone who can sign in")
    func ssoOffNeedsAnEnabledUser() {
        let allDisabled = usersFile(user(#""username": "a", "disabled": true"#))
        #expect(Self.issues(#"{ \#(Self.protectedRoute), \#(Self.entra), "localUsers": { "file": "users.json" }, "sso": { "enabled": false } }"#, users: allDisabled)
            == ["sso.enabled: false turns single sign-on off, but no local user in localUsers.file is enabled, so nobody could sign in"])
        #expect(Self.issues(#"{ \#(Self.protectedRoute), \#(Self.entra), "localUsers": { "file": "users.json" }, "sso": { "enabled": false } }"#).isEmpty)
    }

    @Test("without entra, SSO on must leave some local user able to sign in")
    func noEntra() {
        #expect(Self.issues(#"{ \#(Self.protectedRoute), "localUsers": { "file": "users.json" } }"#)
            == [#"sso.enabled: single sign-on is on but entra is not configured, so no local user could sign in; set "enabled": false or list users in sso.excludedUsers"#])
        #expect(Self.issues(#"{ \#(Self.protectedRoute), "localUsers": { "file": "users.json" }, "sso": { "excludedUsers": ["desk"] } }"#).isEmpty)
        #expect(Self.issues(#"{ \#(Self.protectedRoute), "localUsers": { "file": "users.json" }, "sso": { "enabled": false, "autoFallbackAfter": 2 } }"#)
            == ["sso.autoFallbackAfter: counts failed Entra sign-ins, so entra is required"])
    }

    @Test("excluded users may be named by email, in any case or width, and disabled ones still count as local")
    func excludedUsersMatchCanonically() throws {
        let config = try Self.load(#"{ \#(Self.protectedRoute), \#(Self.entra), "localUsers": { "file": "users.json" }, "sso": { "excludedUsers": ["BG@Contoso.Example", "ＤＥＳＫ", "retired"] } }"#)
        #expect(config.sso.excludedUsers == ["bg@contoso.example", "desk", "retired"])
        let directory = try #require(config.localUsers?.directory)
        #expect(LocalPasswordPolicy.verdict(for: directory.user(matching: "breakglass"), sso: config.sso, fallbackActive: false) == .allowed)
        #expect(LocalPasswordPolicy.verdict(for: directory.user(matching: "retired"), sso: config.sso, fallbackActive: false) == .refused(.disabled))
    }

    @Test("the users file path is resolved from the config's folder, or taken as absolute")
    func absolutePath() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-abs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("people.json")
        try Data(Self.users.utf8).write(to: file)
        let config = try Self.load(#"{ \#(Self.protectedRoute), \#(Self.entra), "localUsers": { "file": "\#(file.path)" } }"#, users: nil)
        #expect(config.localUsers?.directory.users.count == 3)
        #expect(config.localUsers?.resolvedPath == file.standardizedFileURL.path)
    }
}
