import Foundation
import Testing

@testable import PortcullisCore

/// The route policy as a table: allow and deny rules, all-of within a rule, any-of across
/// rules and values, each condition kind, and the config that writes them.
@Suite("Route policy (allow and deny)")
struct RoutePolicyTests {
    static let alice = Identity(
        username: "alice@contoso.example", email: "Alice@Contoso.Example", tenantId: "7C000000-0000-4000-8000-000000000001",
        roles: ["Repairs.Read", "Keyfax.Admin"], groups: ["9A000000-0000-4000-8000-000000000001"], method: .sso)
    static let office = IPAddress.parse("10.1.2.3")!
    static let home = IPAddress.parse("203.0.113.9")!

    static func block(_ text: String) -> CIDRBlock {
        guard case .success(let block) = CIDRBlock.parse(text) else { fatalError(text) }
        return block
    }

    static func allows(_ rule: AccessRule, _ identity: Identity = alice, method: String = "GET", from address: IPAddress? = office) -> Bool {
        rule.matches(identity, method: method, clientAddress: { address })
    }

    @Test("each condition kind matches on any of its values")
    func conditions() {
        #expect(Self.allows(AccessRule(roles: ["Repairs.Read"])))
        #expect(!Self.allows(AccessRule(roles: ["repairs.read"])))  // role values are exact
        #expect(Self.allows(AccessRule(groups: ["9a000000-0000-4000-8000-000000000001"])))
        #expect(Self.allows(AccessRule(users: ["ALICE@contoso.example"])))
        #expect(Self.allows(AccessRule(emailDomains: ["contoso.example"])))
        #expect(!Self.allows(AccessRule(emailDomains: ["example"])))
        #expect(Self.allows(AccessRule(tenants: ["7c000000-0000-4000-8000-000000000001"])))
        #expect(Self.allows(AccessRule(authMethods: [.sso])))
        #expect(!Self.allows(AccessRule(authMethods: [.local])))
        #expect(Self.allows(AccessRule(methods: ["GET", "HEAD"])))
        #expect(!Self.allows(AccessRule(methods: ["GET", "HEAD"]), method: "POST"))
        #expect(Self.allows(AccessRule(clientAddresses: [Self.block("10.0.0.0/8")])))
        #expect(!Self.allows(AccessRule(clientAddresses: [Self.block("10.0.0.0/8")]), from: Self.home))
        #expect(!Self.allows(AccessRule(clientAddresses: [Self.block("10.0.0.0/8")]), from: nil))
        #expect(Self.allows(AccessRule(roles: ["Nope", "Keyfax.Admin"])))
    }

    @Test("conditions in one rule must all hold")
    func allOf() {
        let adminInTenant = AccessRule(roles: ["Keyfax.Admin"], tenants: ["7c000000-0000-4000-8000-000000000001"])
        #expect(Self.allows(adminInTenant))
        var otherTenant = Self.alice
        otherTenant.tenantId = "8d000000-0000-4000-8000-000000000002"
        #expect(!Self.allows(adminInTenant, otherTenant))
        let readOnly = AccessRule(roles: ["Repairs.Read"], methods: ["GET", "HEAD"])
        #expect(Self.allows(readOnly, method: "HEAD"))
        #expect(!Self.allows(readOnly, method: "DELETE"))
        let adminFromOffice = AccessRule(roles: ["Keyfax.Admin"], authMethods: [.sso], clientAddresses: [Self.block("10.0.0.0/8")])
        #expect(Self.allows(adminFromOffice))
        #expect(!Self.allows(adminFromOffice, from: Self.home))
        var local = Self.alice
        local.method = .local
        #expect(!Self.allows(adminFromOffice, local))
    }

    @Test("email domains are matched on a strictly parsed address")
    func strictEmail() {
        let corp = AccessRule(emailDomains: ["corp.com"])
        for email in ["a@evil.com@corp.com", "@corp.com", "a@corp.com.", "a@corp..com", "corp.com", "a@corp.com@"] {
            var identity = Self.alice
            identity.email = email
            #expect(!Self.allows(corp, identity), "\(email)")
        }
        var identity = Self.alice
        identity.email = "Jane.Doe@CORP.com"
        #expect(Self.allows(corp, identity))
        #expect(EmailAddress.domain(of: "a@evil.com@corp.com") == nil)
    }

    @Test("the client address is looked up only when a rule asks for it")
    func lazyAddress() {
        var asked = 0
        _ = AccessRule(roles: ["Repairs.Read"]).matches(Self.alice, method: "GET") {
            asked += 1
            return nil
        }
        #expect(asked == 0)
        _ = AccessRule(roles: ["Nope"], clientAddresses: [Self.block("10.0.0.0/8")]).matches(Self.alice, method: "GET") {
            asked += 1
            return nil
        }
        #expect(asked == 0)  // the role failed first
    }

    @Test(
        "allow is any-of across rules, deny wins over allow, no rules admit anyone signed in",
        arguments: [
            (RoutePolicy(), RoutePolicy.Decision.allowed(rule: nil)),
            (RoutePolicy(allow: [AccessRule(name: "readers", roles: ["Repairs.Read"])]), .allowed(rule: "readers")),
            (
                RoutePolicy(allow: [AccessRule(name: "writers", roles: ["Repairs.Write"]), AccessRule(name: "admins", roles: ["Keyfax.Admin"])]),
                .allowed(rule: "admins")
            ),
            (
                RoutePolicy(allow: [AccessRule(name: "writers", roles: ["Repairs.Write"])]),
                .denied(rule: "allow", reason: "no allow rule matched (writers)")
            ),
            (
                RoutePolicy(allow: [AccessRule(name: "readers", roles: ["Repairs.Read"])], deny: [AccessRule(name: "no-local", authMethods: [.sso])]),
                .denied(rule: "no-local", reason: "deny rule \"no-local\" matched")
            ),
            (RoutePolicy(deny: [AccessRule(name: "no-posts", methods: ["POST"])]), .allowed(rule: nil)),
        ] as [(RoutePolicy, RoutePolicy.Decision)])
    func decisions(policy: RoutePolicy, expected: RoutePolicy.Decision) {
        #expect(policy.decide(Self.alice, method: "GET", clientAddress: { Self.office }) == expected)
    }

    static func load(_ routeFields: String, top: String = "") throws(ConfigError) -> GatewayConfig {
        let json = #"{ "routes": [{ "name": "r", "upstream": "http://127.0.0.1:1"\#(routeFields) }], "entra": { "tenant": "contoso.example", "clientId": "c", "clientSecretEnv": "S" }\#(top) }"#
        return try GatewayConfig.load(Data(json.utf8), environment: { _ in "x" })
    }

    static func issues(_ routeFields: String, top: String = "") -> [String] {
        do {
            _ = try load(routeFields, top: top)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test("config: one rule or a list, names default to their place, groups by name through groupNames")
    func config() throws {
        let single = try Self.load(#", "allow": { "roles": ["A"], "groups": [] }"#)
        #expect(single.routes[0].policy.allow.map(\.name) == ["allow"])
        #expect(single.routes[0].policy.allow[0].groups.isEmpty)  // an empty list is no condition
        let listed = try Self.load(
            #", "allow": [{ "roles": ["A"] }, { "name": "staff", "groups": ["Repairs Staff"], "methods": ["get"] }], "deny": [{ "authMethods": ["local"], "clientAddresses": ["192.0.2.0/24"] }]"#,
            top: #", "groupNames": { "9A000000-0000-4000-8000-000000000001": "Repairs Staff" }"#)
        let policy = listed.routes[0].policy
        #expect(policy.allow.map(\.name) == ["allow[0]", "staff"])
        #expect(policy.allow[1].groups == ["9a000000-0000-4000-8000-000000000001"])
        // Other providers send group names: a value that is not listed is kept as written.
        #expect(try Self.load(#", "allow": { "groups": ["Staff"] }"#).routes[0].policy.allow[0].groups == ["staff"])
        #expect(policy.allow[1].methods == ["GET"])
        #expect(policy.deny[0].name == "deny[0]")
        #expect(policy.deny[0].authMethods == [.local])
    }

    @Test("config errors name the field: empty rules, public routes, unknown groups, bad values")
    func configErrors() {
        #expect(Self.issues(#", "allow": {}"#).contains { $0.hasPrefix("routes[0].allow:") && $0.contains("has no condition") })
        #expect(Self.issues(#", "public": true, "deny": { "roles": ["X"] }"#).contains { $0.hasPrefix("routes[0].deny:") && $0.contains("public route") })
        #expect(Self.issues(#", "allow": [{ "emailDomains": ["@corp.com"] }]"#).contains { $0.hasPrefix("routes[0].allow[0].emailDomains[0]:") })
        #expect(Self.issues(#", "allow": { "authMethods": ["password"] }"#).contains { $0.hasPrefix("routes[0].allow.authMethods[0]:") })
        #expect(Self.issues(#", "allow": { "clientAddresses": ["10.0.0.1/8"] }"#).contains { $0.hasPrefix("routes[0].allow.clientAddresses[0]:") })
        #expect(Self.issues(#", "allow": { "methods": ["GE T"] }"#).contains { $0.hasPrefix("routes[0].allow.methods[0]:") })
        #expect(Self.issues(#", "authContext": "mfa""#).contains { $0.hasPrefix("routes[0].authContext:") })
        #expect(Self.issues("", top: #", "groupNames": { "not-a-guid": "X" }"#).contains { $0.hasPrefix("groupNames.not-a-guid:") })
    }
}

/// Per-route identity headers: which are sent, under which names, with which username, in
/// which list format, and what a value may hold.
@Suite("Identity header plans")
struct IdentityHeaderPlanTests {
    static let keyfaxAuthor = Identity(
        username: "jane.doe@contoso.org", email: "jane.doe@contoso.org", displayName: "Jane Doe", objectId: "0b000000-0000-4000-8000-000000000001",
        roles: ["Keyfax.ScriptAuthor"], groups: ["9a000000-0000-4000-8000-000000000001"], method: .sso)

    static func plan(_ routeFields: String, top: String = "") throws -> IdentityHeaderPlan {
        let config = try RoutePolicyTests.load(routeFields, top: top)
        return IdentityHeaderPlan(route: config.routes[0], names: config.identityHeaders, assertionConfigured: config.assertion != nil)
    }

    @Test("by default every identity header with a value; the assertion only when configured")
    func defaults() throws {
        let lines = try Self.plan("").render(Self.keyfaxAuthor).lines
        #expect(lines.map(\.name) == ["X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Name", "X-Forwarded-Roles", "X-Forwarded-Groups", "X-Auth-Method"])
        #expect(try !Self.plan("").sendsAssertion)
        #expect(try Self.plan("", top: #", "assertion": {}"#).sendsAssertion)
    }

    @Test("authentication only: the username under the app's name, and nothing that could pass for authorization")
    func authenticationOnly() throws {
        let plan = try Self.plan(#", "headers": { "send": ["user"], "names": { "user": "REMOTE_USER" }, "username": { "claim": "email", "transforms": ["stripDomain", "uppercase"] } }"#)
        let lines = plan.render(Self.keyfaxAuthor).lines
        #expect(lines.map(\.name) == ["REMOTE_USER"])
        #expect(lines.map(\.value) == ["JANE.DOE"])
        #expect(plan.headerNames == ["REMOTE_USER"])
    }

    @Test("authentication and permissions: roles and groups map to the app's permission names")
    func permissions() throws {
        let plan = try Self.plan(
            #", "permissions": { "Keyfax.ScriptAuthor": ["ScriptEdit", "Reports"], "Keyfax.Admin": ["*"], "Repairs Staff": ["Reports", "Repairs"] }, "headers": { "send": ["user", "permissions"], "listFormat": "repeat", "static": { "X-Keyfax-Site": "north" } }"#,
            top: #", "groupNames": { "9a000000-0000-4000-8000-000000000001": "Repairs Staff" }"#)
        let lines = plan.render(Self.keyfaxAuthor).lines
        #expect(lines.map(\.name) == ["X-Forwarded-User", "X-Forwarded-Permissions", "X-Forwarded-Permissions", "X-Forwarded-Permissions", "X-Keyfax-Site"])
        #expect(lines.dropFirst().map(\.value) == ["ScriptEdit", "Reports", "Repairs", "north"])
        var admin = Self.keyfaxAuthor
        admin.roles = ["Keyfax.Admin"]
        admin.groups = []
        #expect(plan.render(admin).lines.filter { $0.name == "X-Forwarded-Permissions" }.map(\.value) == ["*"])
    }

    @Test("a route's username rule that finds nothing refuses the route instead of guessing")
    func usernameRefusal() throws {
        let plan = try Self.plan(#", "headers": { "username": { "claim": "upn" } }"#)
        let rendered = plan.render(Self.keyfaxAuthor)
        #expect(rendered.refusal?.contains("upn") == true)
    }

    @Test("over-long values are cut at the limit on a character boundary, and reported")
    func longValues() throws {
        var many = Self.keyfaxAuthor
        many.groups = (0..<400).map { String(format: "9a000000-0000-4000-8000-%012d", $0) }
        let rendered = try Self.plan("").render(many)
        let groups = try #require(rendered.lines.first { $0.name == "X-Forwarded-Groups" })
        #expect(groups.value.utf8.count <= IdentityHeaderValue.maxBytes)
        #expect(rendered.cut == ["X-Forwarded-Groups"])
        let cut = IdentityHeaderValue.limited(String(repeating: "é", count: 3000))
        #expect(cut.cut && cut.value.utf8.count <= IdentityHeaderValue.maxBytes && cut.value.allSatisfy { $0 == "é" })
    }

    @Test("header config errors name the field")
    func errors() {
        #expect(RoutePolicyTests.issues(#", "headers": { "send": ["password"] }"#).contains { $0.hasPrefix("routes[0].headers.send[0]:") })
        #expect(RoutePolicyTests.issues(#", "headers": { "names": { "user": "Host" } }"#).contains { $0.hasPrefix("routes[0].headers.names.user:") })
        #expect(RoutePolicyTests.issues(#", "headers": { "static": { "Authorization": "Basic eA==" } }"#).contains { $0.hasPrefix("routes[0].headers.static.Authorization:") })
        #expect(RoutePolicyTests.issues(#", "headers": { "static": { "X-A": "a\nb" } }"#).contains { $0.hasPrefix("routes[0].headers.static.X-A:") })
        #expect(RoutePolicyTests.issues(#", "permissions": { "Keyfax.Admin": ["a,b"] }"#).contains { $0.hasPrefix("routes[0].permissions.Keyfax.Admin[0]:") })
    }
}
