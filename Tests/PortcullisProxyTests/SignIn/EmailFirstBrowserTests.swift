import Foundation
import HummingbirdBcrypt
import Testing

@testable import PortcullisProxy

/// The email-first sign-in page (`"sso": { "loginPage": "emailFirst" }`) in a real browser
/// (headless Chromium via Selenium, `Tests/Browser/email_first.py`): an SSO user typed in goes
/// on to the dev IdP, an excluded local user gets the password step, a wrong password gets the
/// generic error. With `PORTCULLIS_SCREENSHOTS=1` the local-user test also writes the page's
/// screenshots to `docs/screenshots/` (the README shows them); without it nothing tracked is
/// written.
@Suite("Email-first sign-in page in a real browser (live)", .serialized)
struct EmailFirstBrowserTests {
    static let enabled = ExternalTools.hasBrowser || ExternalTools.isCI
    static let password = "correct horse battery"

    /// The package root (this file is `Tests/PortcullisProxyTests/SignIn/…`).
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static var screenshotsRequested: Bool { ProcessInfo.processInfo.environment["PORTCULLIS_SCREENSHOTS"] == "1" }

    /// Runs `body` with a harness whose gateway has the email-first page, one excluded local
    /// user (`breakglass`, email breakglass@contoso.example, password ``password``) and the
    /// dev IdP's users for SSO.
    static func withGateway<T>(_ body: (SignInHarness) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pc-email-first-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let users = folder.appendingPathComponent("users.json")
        let json = """
            { "users": [
              { "username": "breakglass", "passwordHash": "\(Bcrypt.hash(password, cost: 12))", "email": "breakglass@contoso.example",
                "name": "Break Glass", "roles": ["Repairs.Read"] }
            ] }
            """
        try json.write(to: users, atomically: true, encoding: .utf8)
        let extra = #", "localUsers": { "file": "\#(users.path)" }, "sso": { "excludedUsers": ["breakglass"], "loginPage": "emailFirst" }"#
        return try await SignInHarness.with(extra: extra, body)
    }

    /// Runs `email_first.py`; returns its one-line JSON result. The wait happens on a dispatch
    /// thread, not a cooperative one the gateway's sign-in tasks need.
    static func browse(start: String, user: String, password: String? = nil, screenshots: URL? = nil) async throws -> [String: Any] {
        var arguments = ["python3", ExternalTools.projectRoot.appendingPathComponent("Tests/Browser/email_first.py").path, "--start", start, "--user", user]
        if let password { arguments += ["--password", password] }
        if let screenshots { arguments += ["--screenshots", screenshots.path] }
        let result = try await ExternalTools.runDetached(arguments)
        let line = result.output.split(separator: "\n").last.map(String.init) ?? ""
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw ExternalTools.BrowserFailure(message: "no JSON from email_first.py (exit \(result.status)): \(result.output) \(result.error.suffix(2000))")
        }
        return object
    }

    /// The echo's `headers` (pairs) as a lowercased dictionary.
    static func headers(_ page: Any?) -> [String: String] {
        guard let page = page as? [String: Any], let pairs = page["headers"] as? [[String]] else { return [:] }
        var result: [String: String] = [:]
        for pair in pairs where pair.count == 2 { result[pair[0].lowercased()] = pair[1] }
        return result
    }

    @Test("an SSO user typed into step one goes on to the IdP and lands on the upstream", .enabled(if: enabled))
    func ssoUser() async throws {
        try await Self.withGateway { harness in
            let start = harness.origin + "/app/hello?x=1"
            let result = try await Self.browse(start: start, user: "alice@contoso.example")
            #expect(result["status"] as? String == "ok", "\(result)")
            #expect(result["steps"] as? [String] == ["identify", "idp"])
            #expect(result["finalURL"] as? String == start)
            let headers = Self.headers(result["page"])
            #expect(headers["x-forwarded-user"] == "alice@contoso.example", "\(headers)")
            #expect(headers["x-auth-method"] == "sso")
            #expect((result["cookies"] as? [String])?.contains("portcullis_session") == true)
        }
    }

    @Test("an excluded local user gets the password step and lands on the upstream signed in locally", .enabled(if: enabled))
    func excludedUser() async throws {
        let screenshots = Self.screenshotsRequested ? Self.packageRoot.appendingPathComponent("docs/screenshots") : nil
        try await Self.withGateway { harness in
            let start = harness.origin + "/app/hello?x=1"
            let result = try await Self.browse(start: start, user: "breakglass", password: Self.password, screenshots: screenshots)
            #expect(result["status"] as? String == "ok", "\(result)")
            #expect(result["steps"] as? [String] == ["identify", "password"])
            #expect(result["finalURL"] as? String == start)
            let headers = Self.headers(result["page"])
            #expect(headers["x-forwarded-user"] == "breakglass", "\(headers)")
            #expect(headers["x-forwarded-email"] == "breakglass@contoso.example")
            #expect(headers["x-auth-method"] == "local")
            #expect((result["cookies"] as? [String])?.contains("portcullis_session") == true)
            if let screenshots {
                #expect((result["screenshots"] as? [String])?.count == 2, "\(result)")
                for name in ["signin-identify.png", "signin-password.png"] {
                    #expect(FileManager.default.fileExists(atPath: screenshots.appendingPathComponent(name).path), "\(name)")
                }
            }
        }
    }

    @Test("a wrong password shows the generic error on the page and sets no session cookie", .enabled(if: enabled))
    func wrongPassword() async throws {
        try await Self.withGateway { harness in
            let result = try await Self.browse(start: harness.origin + "/app/hello", user: "breakglass", password: "wrong horse")
            #expect(result["status"] as? String == "error")
            #expect(result["step"] as? String == "password-refused", "\(result)")
            #expect(result["steps"] as? [String] == ["identify", "password"])
            #expect(result["alert"] as? String == LocalSignIn.genericError, "\(result)")
            #expect((result["url"] as? String)?.hasPrefix(harness.origin + "/.portcullis/signin") == true)
            let cookies = try #require(result["cookies"] as? [String], "\(result)")
            #expect(!cookies.contains { $0.hasSuffix("portcullis_session") }, "\(cookies)")
        }
    }
}
