import Foundation
import NIOPosix
import PortcullisCore
import PortcullisDevIdP
import PortcullisEcho
import PortcullisTestSupport
import Testing

let nginxPath = "/usr/sbin/nginx"
/// Skipped without nginx on a developer machine, never under `CI=true` (`.ci/run` installs it).
let nginxEnabled = FileManager.default.isExecutableFile(atPath: nginxPath) || ExternalTools.isCI

/// Forward-auth mode behind a real nginx (the Debian package), configured by the very file
/// `deploy/nginx/portcullis-forward-auth.conf`: nginx proxies to the echo upstream and asks
/// Portcullis about each request with `auth_request`.
@Suite("Forward-auth behind nginx (live)", .enabled(if: nginxEnabled))
struct ForwardAuthTests {
    static let nginx = nginxPath

    /// nginx on `port`, running the deploy file with its addresses replaced.
    final class Nginx: Sendable {
        let port: Int
        let directory: URL
        let process: Process

        init(port: Int, gatewayPort: Int, appPort: Int) throws {
            self.port = port
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("portcullis-nginx-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let site = try String(contentsOf: ExternalTools.projectRoot.appendingPathComponent("deploy/nginx/portcullis-forward-auth.conf"), encoding: .utf8)
                .replacingOccurrences(of: "server 127.0.0.1:8080;", with: "server 127.0.0.1:\(gatewayPort);")
                .replacingOccurrences(of: "server 127.0.0.1:9001;", with: "server 127.0.0.1:\(appPort);")
                .replacingOccurrences(of: "listen 80;", with: "listen 127.0.0.1:\(port);")
            try site.write(to: directory.appendingPathComponent("site.conf"), atomically: true, encoding: .utf8)
            let user = geteuid() == 0 ? "user root;\n" : ""
            let main = """
                \(user)worker_processes 1;
                error_log \(directory.path)/error.log;
                pid \(directory.path)/nginx.pid;
                events { worker_connections 64; }
                http { access_log off; include \(directory.path)/site.conf; }
                """
            try main.write(to: directory.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
            process = Process()
            process.executableURL = URL(fileURLWithPath: ForwardAuthTests.nginx)
            process.arguments = ["-p", directory.path, "-c", directory.appendingPathComponent("nginx.conf").path, "-g", "daemon off;"]
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        var errorLog: String { (try? String(contentsOf: directory.appendingPathComponent("error.log"), encoding: .utf8)) ?? "" }

        func stop() {
            if process.isRunning {
                process.terminate()
                process.waitUntilExit()
            }
            try? FileManager.default.removeItem(at: directory)
        }
    }

    /// One request to nginx, as a browser on its host would send it.
    static func get(_ port: Int, _ uri: String, cookies: [String: String] = [:], headers: [(String, String)] = []) async throws -> TestResponse {
        var all = [("Host", "127.0.0.1:\(port)"), ("Accept", "text/html")] + headers
        if !cookies.isEmpty { all.append(("Cookie", cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))) }
        return try await TestHTTPClient.with(port: port) { client in try await client.send(uri, headers: all) }
    }

    @Test("anonymous → sign-in through nginx; signed in → the upstream sees the identity and never a client's copy; forged forwarding headers from an untrusted address are ignored")
    func nginxForwardAuth() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let nginxPort = try closedPort()
        let origin = "http://127.0.0.1:\(nginxPort)"
        let directory = DevIdPDirectory.demo(
            clientId: SignInHarness.clientId, clientSecret: SignInHarness.clientSecret, redirectURI: origin + "/.portcullis/callback",
            postLogoutRedirectURI: origin + "/.portcullis/signed-out", frontchannelLogoutURL: nil)
        let idp = try await DevIdentityProvider.start(directory: directory, group: group)
        let echo = try await EchoUpstream.start(port: 0, group: group)
        // nginx reaches Portcullis from 127.0.0.1; the untrusted client below comes from 127.0.0.9.
        let json = """
            { "listen": { "port": 0 }, "publicURL": "\(origin)", "logging": { "accessLog": false },
              "trustedProxies": ["127.0.0.1"],
              "entra": { "authority": "\(idp.baseURL)", "tenant": "contoso.example", "clientId": "\(SignInHarness.clientId)",
                         "clientSecretEnv": "SECRET", "graphURL": "\(idp.baseURL)" },
              "routes": [
                { "name": "public", "pathPrefix": "/public/", "upstream": "http://127.0.0.1:\(echo.port)", "public": true },
                { "name": "app", "upstream": "http://127.0.0.1:\(echo.port)" } ] }
            """
        let audit = CapturedLog()
        let live: LiveGateway
        do {
            live = try await SignInHarness.startGateway(json, audit: audit)
        } catch {
            await echo.close()
            await idp.close()
            throw error
        }
        // The gateway binds a port of its own choosing: a port found free and released first
        // could be taken by another test before the bind.
        let gatewayPort = live.port
        let nginx = try Nginx(port: nginxPort, gatewayPort: gatewayPort, appPort: echo.port)
        defer { nginx.stop() }
        do {
            try await Self.run(nginx: nginx, gatewayPort: gatewayPort, idp: idp, origin: origin, audit: audit)
        } catch {
            Issue.record("nginx error log: \(nginx.errorLog.suffix(2000))")
            await live.stop()
            await echo.close()
            await idp.close()
            throw error
        }
        await live.stop()
        await echo.close()
        await idp.close()
    }

    static func run(nginx: Nginx, gatewayPort: Int, idp: DevIdentityProvider, origin: String, audit: CapturedLog) async throws {
        let port = nginx.port
        // nginx starts in the background: wait for its port.
        var ready = false
        for _ in 0..<100 where !ready {
            ready = (try? await get(port, "/.portcullis/healthz").status) == 200
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready, "nginx did not answer: \(nginx.errorLog.suffix(1000))")

        // Anonymous: nginx's auth_request gets 401 and sends the browser to sign in.
        let anonymous = try await get(port, "/app/x?y=1&z=2")
        #expect(anonymous.status == 302)
        // nginx makes the location absolute; the page to come back to is encoded whole.
        let signInURL = try #require(anonymous.location)
        #expect(signInURL == origin + "/.portcullis/start?rd=%2Fapp%2Fx%3Fy%3D1%26z%3D2", "\(anonymous.text)")
        // A public route needs no session.
        #expect(try await get(port, "/public/info").status == 200)

        // Sign in through nginx: start → login → IdP → callback, all on the app's host.
        let start = try await get(port, String(signInURL.dropFirst(origin.count)))
        #expect(start.status == 302)
        let login = try await get(port, try #require(start.location))
        let authorize = try #require(login.location)
        #expect(authorize.hasPrefix(idp.baseURL))
        let picked = try await TestHTTPClient.with(port: idp.port) { client in
            try await client.send(String(authorize.dropFirst(idp.baseURL.count)) + "&dev_user=alice", headers: [("Host", "127.0.0.1:\(idp.port)")])
        }
        let callback = try #require(picked.location)
        #expect(callback.hasPrefix(origin + "/.portcullis/callback"))
        let signedIn = try await get(port, String(callback.dropFirst(origin.count)), cookies: login.setCookies)
        #expect(signedIn.status == 302)
        #expect(signedIn.location == "/app/x?y=1&z=2")
        let cookies = ["portcullis_session": try #require(signedIn.setCookies["portcullis_session"])]

        // Signed in: the upstream sees alice, whatever the client claims, in any spelling.
        let forged = [("X-Forwarded-User", "mallory"), ("x-forwarded-user", "mallory"), ("X_Forwarded_User", "mallory"), ("X.Forwarded.User", "mallory")]
        let page = try await get(port, "/app/x?y=1", cookies: cookies, headers: forged)
        #expect(page.status == 200)
        let seen = try page.echoedHeaders()
        #expect(seen.filter { $0.0.lowercased().contains("forwarded") && $0.0.lowercased().contains("user") }.map(\.1) == ["alice@contoso.example"])
        #expect(!seen.contains { $0.1.contains("mallory") })
        #expect(try page.echoedHeader("X-Forwarded-Roles") == "Repairs.Read,Repairs.Write")
        #expect(try page.echoedURI() == "/app/x?y=1")

        // Straight to Portcullis from an address outside trustedProxies: the forwarding headers
        // are not believed (asking about a public path does not make the call public), and the
        // call is judged on its own path, which no route covers.
        let direct = try await ExternalTools.runDetached([
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", "127.0.0.9",
            "-H", "X-Forwarded-Uri: /public/info", "-H", "X-Forwarded-Method: GET", "-H", "X-Forwarded-Host: 127.0.0.1:\(port)",
            "http://127.0.0.1:\(gatewayPort)/.portcullis/verify",
        ])
        #expect(direct.output == "403", "\(direct)")
        // The same call from the trusted address is believed.
        let trusted = try await ExternalTools.runDetached([
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Forwarded-Uri: /public/info", "-H", "X-Forwarded-Method: GET",
            "-H", "X-Forwarded-Host: 127.0.0.1:\(port)", "http://127.0.0.1:\(gatewayPort)/.portcullis/verify",
        ])
        #expect(trusted.output == "200", "\(trusted)")
        // From the trusted proxy too, the forwarded URI is canonicalized like any target: a
        // dot segment out of the public route is refused, not judged as public.
        let traversal = try await ExternalTools.runDetached([
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Forwarded-Uri: /public/%2e%2e/app/x", "-H", "X-Forwarded-Method: GET",
            "-H", "X-Forwarded-Host: 127.0.0.1:\(port)", "http://127.0.0.1:\(gatewayPort)/.portcullis/verify",
        ])
        #expect(traversal.output == "400", "\(traversal)")

        // The sign-in entry hands its return URL to the same guard as every sign-in: another
        // site is refused (and audited); the sign-in goes on to "/".
        let foreign = try await get(port, "/.portcullis/start?rd=https%3A%2F%2Fevil.example%2Fphish")
        let foreignLogin = try await get(port, try #require(foreign.location))
        #expect(foreignLogin.status == 302)
        #expect(audit.lines.contains { $0.contains("event=signin.redirect_refused") })
    }
}
