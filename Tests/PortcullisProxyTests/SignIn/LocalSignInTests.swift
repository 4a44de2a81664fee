import Foundation
import HummingbirdBcrypt
import NIOHTTP1
import PortcullisAuth
import PortcullisCore
import PortcullisTestSupport
import Testing

@testable import PortcullisProxy

/// Break-glass sign-in, live: local users beside Entra (the dev IdP), the exclusion list, the
/// emergency SSO switch flipped by the real `portcullis sso` command, lockout, TOTP, CSRF.
@Suite("Local break-glass sign-in (live)", .serialized)
struct LocalSignInTests {
    static let totpSecret: [UInt8] = Array("portcullis-totp-secret-20b".utf8.prefix(20))

    /// A users file: `breakglass` (excluded), `alice@contoso.example` (an SSO user with a local
    /// password, not excluded), `otp` (excluded, with TOTP), `gone` (disabled, excluded).
    static func usersFile(_ folder: URL) throws -> URL {
        let hash = Bcrypt.hash("correct horse", cost: 12)
        let json = """
            { "users": [
              { "username": "breakglass", "passwordHash": "\(hash)", "email": "breakglass@contoso.example", "name": "Break Glass",
                "roles": ["Repairs.Read"], "groups": ["g-local"] },
              { "username": "alice@contoso.example", "passwordHash": "\(hash)", "email": "alice@contoso.example" },
              { "username": "otp", "passwordHash": "\(hash)", "totpSecret": "\(Base32.encode(totpSecret))" },
              { "username": "gone", "passwordHash": "\(hash)", "disabled": true }
            ] }
            """
        let file = folder.appendingPathComponent("users.json")
        try json.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// The harness with local users, its config also on disk (for reloads and the CLI).
    struct Setup {
        let harness: SignInHarness
        let folder: URL
        let configFile: URL
        let reloader: ConfigReloader
        let audit: CapturedLog

        static func with<T>(sso: String = #"{ "excludedUsers": ["breakglass", "OTP", "gone"] }"#, _ body: (Setup) async throws -> T) async throws -> T {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pc-local-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let users = try usersFile(folder)
            let audit = CapturedLog()
            let extra = #", "localUsers": { "file": "\#(users.path)", "lockout": { "maxFailures": 3, "backoffBase": 0 } }, "sso": \#(sso)"#
            return try await SignInHarness.with(extra: extra, audit: audit) { harness in
                let configFile = folder.appendingPathComponent("gateway.json")
                try harness.configJSON.write(to: configFile, atomically: true, encoding: .utf8)
                let reloader = ConfigReloader(
                    path: configFile.path, gateway: harness.live.gateway, runningHash: "-", audit: audit.logger(label: GatewayServices.auditLabel),
                    logger: audit.logger(label: "reload"), environment: { $0 == "SECRET" ? SignInHarness.clientSecret : nil })
                return try await body(Setup(harness: harness, folder: folder, configFile: configFile, reloader: reloader, audit: audit))
            }
        }
    }

    /// A browser's view of the sign-in form: its cookies and the form's hidden fields.
    struct Form {
        var cookies: [String: String]
        var fields: [String: String]
        var response: TestResponse
    }

    static func hiddenFields(_ html: String) -> [String: String] {
        var fields: [String: String] = [:]
        let pattern = try! NSRegularExpression(pattern: #"<input type="hidden" name="([a-z]+)" value="([^"]*)">"#)
        for match in pattern.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
            let name = String(html[Range(match.range(at: 1), in: html)!]), value = String(html[Range(match.range(at: 2), in: html)!])
            fields[name] = value.replacingOccurrences(of: "&#x2F;", with: "/").replacingOccurrences(of: "&amp;", with: "&")
                .replacingOccurrences(of: "&#x3D;", with: "=").replacingOccurrences(of: "&#61;", with: "=")
        }
        return fields
    }

    static func open(_ harness: SignInHarness, rd: String = "/app/x", cookies: [String: String] = [:]) async throws -> Form {
        let response = try await harness.get("/.portcullis/signin?rd=" + FormURLEncoding.encode(rd), cookies: cookies, headers: [("Accept", "text/html")])
        var all = cookies
        for (name, value) in response.setCookies { all[name] = value }
        return Form(cookies: all, fields: hiddenFields(response.text), response: response)
    }

    static func post(_ harness: SignInHarness, _ form: Form, _ values: [String: String], peer: String? = nil) async throws -> Form {
        var fields = form.fields
        for (name, value) in values { fields[name] = value }
        let body = FormURLEncoding.encode(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        var headers = [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "text/html")]
        if let peer { headers.append(("X-Forwarded-For", peer)) }
        let response = try await harness.get("/.portcullis/signin", cookies: form.cookies, headers: headers, method: .POST, body: body)
        var cookies = form.cookies
        for (name, value) in response.setCookies { cookies[name] = value.isEmpty ? nil : value }
        return Form(cookies: cookies, fields: hiddenFields(response.text), response: response)
    }

    /// Password step for `user`; the cookies afterwards (with the session on success).
    static func signIn(_ harness: SignInHarness, _ user: String, _ password: String = "correct horse") async throws -> Form {
        try await post(harness, try await open(harness), ["step": "password", "username": user, "password": password])
    }

    /// Runs the executable to its end; its exit status.
    static func runWaiting(_ executable: URL, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The page without what differs per render (the CSRF token).
    static func comparable(_ html: String) -> String {
        html.replacingOccurrences(of: #"name="csrf" value="[^"]*""#, with: "", options: .regularExpression)
    }

    @Test("an excluded user signs in locally; the upstream sees the SSO header set plus X-Auth-Method: local")
    func excludedUser() async throws {
        try await Setup.with { setup in
            let harness = setup.harness
            let local = try await Self.signIn(harness, "BreakGlass@Contoso.Example ")
            #expect(local.response.status == 302, "\(local.response.text)")
            #expect(local.response.location == "/app/x")
            let seen = try await harness.get("/app/x", cookies: local.cookies)
            #expect(seen.status == 200)
            #expect(try seen.echoedHeader("X-Forwarded-User") == "breakglass")
            #expect(try seen.echoedHeader("X-Auth-Method") == "local")
            #expect(try seen.echoedHeader("X-Forwarded-Roles") == "Repairs.Read")

            let (_, sso) = try await harness.signIn("alice")
            let ssoSeen = try await harness.get("/app/x", cookies: sso)
            let names = { (response: TestResponse) in Set(try response.echoedHeaders().map { $0.0.lowercased() }.filter { $0.hasPrefix("x-forwarded-") || $0.hasPrefix("x-auth") }) }
            #expect(try names(seen) == names(ssoSeen), "the same identity headers for both methods")
            #expect(try ssoSeen.echoedHeader("X-Auth-Method") == "sso")
            #expect(setup.audit.lines.contains { $0.contains("event=local.signin.success") && $0.contains("user=breakglass") })
            #expect(!setup.audit.lines.contains { $0.contains("correct horse") }, "no password in the audit log")
        }
    }

    @Test("a non-excluded user's correct local password gets exactly the wrong-password answer")
    func inactivePassword() async throws {
        try await Setup.with { setup in
            let harness = setup.harness
            let inactive = try await Self.signIn(harness, "alice@contoso.example", "correct horse")
            let wrong = try await Self.signIn(harness, "alice@contoso.example", "wrong horse")
            let unknown = try await Self.signIn(harness, "nobody@contoso.example", "correct horse")
            let disabled = try await Self.signIn(harness, "gone", "correct horse")
            for other in [wrong, unknown, disabled] {
                #expect(inactive.response.status == other.response.status)
            }
            #expect(inactive.response.status == 401)
            #expect(inactive.cookies["portcullis_session"] == nil)
            #expect(Self.comparable(inactive.response.text) == Self.comparable(wrong.response.text))
            #expect(setup.audit.lines.contains { $0.contains("event=local.signin.failure") && $0.contains("reason=inactive_because_sso") })
        }
    }

    @Test("a POST without the CSRF token, or with another browser's, is refused")
    func csrf() async throws {
        try await Setup.with { setup in
            let harness = setup.harness
            let form = try await Self.open(harness)
            var stripped = form
            stripped.fields["csrf"] = nil
            #expect(try await Self.post(harness, stripped, ["step": "password", "username": "breakglass", "password": "correct horse"]).response.status == 403)
            let other = try await Self.open(harness)
            var crossed = form
            crossed.fields["csrf"] = other.fields["csrf"]
            #expect(try await Self.post(harness, crossed, ["step": "password", "username": "breakglass", "password": "correct horse"]).response.status == 403)
            #expect(try await Self.post(harness, form, ["step": "password", "username": "breakglass", "password": "correct horse"]).response.status == 302)
        }
    }

    @Test("lockout after maxFailures: username, email and letter case share the counter; the right password is then refused too")
    func lockout() async throws {
        try await Setup.with { setup in
            let harness = setup.harness
            for variant in ["breakglass", "BREAKGLASS", "breakglass@contoso.example"] {
                #expect(try await Self.signIn(harness, variant, "wrong").response.status == 401)
            }
            #expect(setup.audit.lines.contains { $0.contains("event=local.lockout") })
            let locked = try await Self.signIn(harness, "breakglass", "correct horse")
            #expect(locked.response.status == 401)
            #expect(locked.cookies["portcullis_session"] == nil)
        }
    }

    @Test("TOTP: a second step after the password; a code works once, a replay is refused")
    func totp() async throws {
        try await Setup.with { setup in
            let harness = setup.harness
            let code = TOTP.code(secret: Self.totpSecret, step: TOTP.step(at: Date()))
            let first = try await Self.signIn(harness, "otp")
            #expect(first.response.status == 200)
            #expect(first.fields["step"] == "totp")
            let accepted = try await Self.post(harness, first, ["code": code])
            #expect(accepted.response.status == 302, "\(accepted.response.text)")
            let again = try await Self.signIn(harness, "otp")
            let replayed = try await Self.post(harness, again, ["code": code])
            #expect(replayed.response.status == 401, "a code works once")
            #expect(setup.audit.lines.contains { $0.contains("reason=bad_totp") })
        }
    }

    @Test("a broken users file on reload keeps the old users")
    func brokenUsersFile() async throws {
        try await Setup.with { setup in
            try #"{ "users": [ { "username": "breakglass", "passwordHash": "plain-text" } ] }"#
                .write(to: setup.folder.appendingPathComponent("users.json"), atomically: true, encoding: .utf8)
            guard case .refused(_, let problems) = await setup.reloader.reload(trigger: "test") else {
                Issue.record("a broken users file was applied")
                return
            }
            #expect(problems.contains { $0.hasPrefix("localUsers.file") })
            #expect(try await Self.signIn(setup.harness, "breakglass").response.status == 302, "the old users still sign in")
        }
    }

    @Test("`portcullis sso disable`: local sign-in for all within 5 s, Entra not offered, an SSO session goes on; `sso enable` ends the emergency session")
    func ssoSwitch() async throws {
        guard let executable = SignalTests.executable else {
            #expect(!ExternalTools.isCI, "the portcullis executable is missing beside the tests")
            return
        }
        try await Setup.with { setup in
            let harness = setup.harness
            let watcher = Task { await setup.reloader.watch(interval: .milliseconds(200)) }
            defer { watcher.cancel() }
            let (_, sso) = try await harness.signIn("alice")
            #expect(try await Self.signIn(harness, "alice@contoso.example").response.status == 401, "SSO on: alice's local password is inactive")
            // With an audit log file configured, the command's audit line lands there too.
            let configText = try String(contentsOf: setup.configFile, encoding: .utf8)
            try configText.replacingOccurrences(of: #""logging": { "accessLog": false }"#, with: #""logging": { "accessLog": false, "auditLogFile": "audit.log" }"#)
                .write(to: setup.configFile, atomically: true, encoding: .utf8)

            let started = Date()
            let disable = try await ExternalTools.detached { try Self.runWaiting(executable, ["sso", "disable", "--config", setup.configFile.path]) }
            #expect(disable == 0)
            let auditFile = (try? String(contentsOf: setup.folder.appendingPathComponent("audit.log"), encoding: .utf8)) ?? ""
            #expect(auditFile.contains("event=sso.disabled"), "the audit log file: \(auditFile)")
            var emergency: Form?
            while Date().timeIntervalSince(started) < 60, emergency == nil {
                let attempt = try await Self.signIn(harness, "alice@contoso.example")
                if attempt.response.status == 302 { emergency = attempt } else { try await Task.sleep(for: .milliseconds(100)) }
            }
            let elapsed = Date().timeIntervalSince(started)
            let session = try #require(emergency, "local sign-in never opened")
            // The issue's target is under 5 s (about 1 s here: the file watch polls every second);
            // the figure is printed, and only a hang fails, so a loaded CI machine (bcrypt runs
            // at the lowest priority) cannot fail the run on time alone.
            print("sso disable → first local sign-in: \(String(format: "%.2f", elapsed)) s (target < 5 s)")
            #expect(elapsed < 30, "from `sso disable` to the first local sign-in: \(elapsed) s")
            let login = try await harness.get("/.portcullis/login?rd=%2F")
            #expect(login.location?.hasPrefix("/.portcullis/signin") == true, "Entra is not offered")
            #expect(try await harness.get("/app/x", cookies: sso).status == 200, "the SSO session signed in before still works")
            #expect(try await harness.get("/app/x", cookies: session.cookies).status == 200)

            let enable = try await ExternalTools.detached { try Self.runWaiting(executable, ["sso", "enable", "--config", setup.configFile.path]) }
            #expect(enable == 0)
            var ended = false
            for _ in 0..<50 where !ended {
                ended = try await harness.get("/app/x", cookies: session.cookies).status == 401
                if !ended { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(ended, "the emergency local session ends when SSO is back")
            #expect(try await Self.signIn(harness, "alice@contoso.example").response.status == 401, "and the local password is inactive again")
            #expect(setup.audit.lines.contains { $0.contains("event=session.local_ended") })
            #expect(try await harness.get("/app/x", cookies: sso).status == 200)
        }
    }

    @Test("autoFallbackAfter: after N failed calls to Entra, local sign-in opens to every local user, each use audited")
    func autoFallback() async throws {
        try await Setup.with(sso: #"{ "excludedUsers": ["breakglass"], "autoFallbackAfter": 2 }"#) { setup in
            let harness = setup.harness
            #expect(try await Self.signIn(harness, "alice@contoso.example").response.status == 401, "Entra answers: alice's local password is inactive")
            await harness.idp.close()  // Entra goes down before its discovery document was ever read
            for _ in 0..<2 {
                #expect(try await harness.get("/.portcullis/login?rd=%2Fapp%2Fx").status == 503)
            }
            let login = try await harness.get("/.portcullis/login?rd=%2Fapp%2Fx")
            #expect(login.location?.hasPrefix("/.portcullis/signin") == true, "the sign-in page comes first now")
            // The switch itself is audited, once.
            #expect(setup.audit.lines.filter { $0.contains("event=sso.fallback_started") }.count == 1, "\(setup.audit.lines)")
            let form = try await Self.open(harness)
            #expect(form.response.text.contains("not answering"), "the page says why")
            let fallback = try await Self.signIn(harness, "alice@contoso.example")
            #expect(fallback.response.status == 302)
            #expect(setup.audit.lines.contains { $0.contains("event=local.signin.success") && $0.contains("fallback=true") })
        }
    }

    @Test("sso.offEndsSessions: switching SSO off ends SSO sessions at their next request")
    func offEndsSessions() async throws {
        try await Setup.with(sso: #"{ "excludedUsers": ["breakglass"], "offEndsSessions": true }"#) { setup in
            let harness = setup.harness
            let (_, sso) = try await harness.signIn("alice")
            #expect(try await harness.get("/app/x", cookies: sso).status == 200)
            let text = try String(contentsOf: setup.configFile, encoding: .utf8)
                .replacingOccurrences(of: #""offEndsSessions": true"#, with: #""offEndsSessions": true, "enabled": false"#)
            try text.write(to: setup.configFile, atomically: true, encoding: .utf8)
            guard case .applied = await setup.reloader.reload(trigger: "test") else {
                Issue.record("reload refused")
                return
            }
            #expect(try await harness.get("/app/x", cookies: sso).status == 401)
            #expect(setup.audit.lines.contains { $0.contains("event=session.sso_off_ended") })
        }
    }
}
