import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import PortcullisCore
import PortcullisDevIdP
import PortcullisEcho
import PortcullisProxy
import PortcullisTestSupport
import Synchronization

/// The dev IdP, an echo upstream and a gateway with Entra sign-in, all on loopback. The
/// gateway's port is chosen first because the IdP must know the redirect URI.
struct SignInHarness {
    /// A TLS certificate and key for the gateway's listener (absolute paths).
    struct TLSFiles {
        var certificateFile: String
        var keyFile: String
    }

    static let clientId = "c11e0000-0000-4000-8000-00000000c0de"
    static let clientSecret = "test-secret"

    let idp: DevIdentityProvider
    let echo: EchoUpstream
    let live: LiveGateway
    var server: GatewayServer { live.server }
    /// The config text, for starting further instances of the same gateway.
    let configJSON: String
    let port: Int
    /// `https` when started with `tls`.
    let scheme: String
    var origin: String { "\(scheme)://127.0.0.1:\(port)" }

    /// - Parameter entra: extra `entra` fields (JSON, leading comma) or replacements.
    /// - Parameter appRoute: extra fields of the protected `app` route (JSON, leading comma).
    /// - Parameter certificate: when set, the IdP accepts only this certificate (no secret)
    ///   and `entra` must configure `clientCertificate` instead of the secret.
    static func start(
        tenant: String = DevIdPDirectory.demoContosoTenantID, entra: String = "", extra: String = "", certificatePEM: String? = nil,
        audit: CapturedLog? = nil, clock: TestClock? = nil, appRoute: String = "", routes: String = "", tls: TLSFiles? = nil
    ) async throws -> SignInHarness {
        // The gateway's port is picked before it binds (the IdP must know the redirect URI),
        // so on a busy machine another socket can take it meanwhile: pick again.
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await startOnce(
                    tenant: tenant, entra: entra, extra: extra, certificatePEM: certificatePEM, audit: audit, clock: clock, appRoute: appRoute, routes: routes,
                    tls: tls)
            } catch let error as IOError where error.errnoCode == EADDRINUSE && attempt < 4 {
                continue
            }
        }
    }

    /// Starts the harness (the same parameters as ``start(tenant:entra:extra:certificatePEM:audit:clock:appRoute:)``),
    /// runs `body` with it and stops all of it whether `body` returns or throws.
    static func with<T>(
        tenant: String = DevIdPDirectory.demoContosoTenantID, entra: String = "", extra: String = "", certificatePEM: String? = nil,
        audit: CapturedLog? = nil, clock: TestClock? = nil, appRoute: String = "", routes: String = "", tls: TLSFiles? = nil,
        _ body: (SignInHarness) async throws -> T
    ) async throws -> T {
        try await scoped(
            try await start(
                tenant: tenant, entra: entra, extra: extra, certificatePEM: certificatePEM, audit: audit, clock: clock, appRoute: appRoute, routes: routes,
                tls: tls),
            stop: { await $0.stop() }, body)
    }

    private static func startOnce(
        tenant: String, entra: String, extra: String, certificatePEM: String?, audit: CapturedLog?, clock: TestClock?, appRoute: String,
        routes: String, tls: TLSFiles?
    ) async throws -> SignInHarness {
        let group = MultiThreadedEventLoopGroup.singleton
        let port = try closedPort()
        let scheme = tls == nil ? "http" : "https"
        let origin = "\(scheme)://127.0.0.1:\(port)"
        let tlsField = tls.map { #", "tls": { "certificateFile": "\#($0.certificateFile)", "keyFile": "\#($0.keyFile)" }"# } ?? ""
        var directory = DevIdPDirectory.demo(
            clientId: clientId, clientSecret: clientSecret, redirectURI: origin + "/.portcullis/callback",
            postLogoutRedirectURI: origin + "/.portcullis/signed-out", frontchannelLogoutURL: origin + "/.portcullis/frontchannel-logout")
        if let certificatePEM {
            directory.clients[0].clientSecret = nil
            directory.clients[0].certificatePEM = certificatePEM
        }
        let idp = try await DevIdentityProvider.start(directory: directory, group: group)
        let echo = try await EchoUpstream.start(port: 0, group: group)
        let json = """
            { "listen": { "port": \(port)\(tlsField) }, "publicURL": "\(origin)", "logging": { "accessLog": false },
              "entra": { "authority": "\(idp.baseURL)", "tenant": "\(tenant)", "clientId": "\(clientId)",
                         \(certificatePEM == nil ? #""clientSecretEnv": "SECRET", "# : "")"graphURL": "\(idp.baseURL)", "requestTimeout": 2\(entra) },
              "routes": [
                { "name": "public", "pathPrefix": "/public/", "upstream": "http://127.0.0.1:\(echo.port)", "public": true },\(routes.replacingOccurrences(of: "ECHO", with: "\(echo.port)"))
                { "name": "app", "pathPrefix": "/", "upstream": "http://127.0.0.1:\(echo.port)"\(appRoute) }
              ]\(extra) }
            """
        do {
            let live = try await startGateway(json, audit: audit, clock: clock)
            return SignInHarness(idp: idp, echo: echo, live: live, configJSON: json, port: port, scheme: scheme)
        } catch {
            await echo.close()
            await idp.close()
            throw error
        }
    }

    /// A gateway from `json`, optionally listening on another port than the config says.
    /// The client secret is read from `$SECRET`, which is `secret`.
    static func startGateway(
        _ json: String, port: Int? = nil, secret: String = clientSecret, audit: CapturedLog? = nil, clock: TestClock? = nil
    ) async throws -> LiveGateway {
        var config = try GatewayConfig.load(Data(json.utf8), environment: { $0 == "SECRET" ? secret : nil })
        if let port { config.listen.port = port }
        return try await LiveGateway.start(config, audit: audit, clock: clock)
    }

    func stop() async {
        await live.stop()
        await echo.close()
        await idp.close()
    }

    /// One request to the gateway on a fresh connection.
    func get(_ uri: String, cookies: [String: String] = [:], headers: [(String, String)] = [], method: HTTPMethod = .GET, body: String? = nil)
        async throws -> TestResponse
    {
        var all = headers
        if !cookies.isEmpty { all.append(("Cookie", cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "))) }
        return try await TestHTTPClient.with(port: port) { client in try await client.send(uri, method: method, headers: all, body: body) }
    }

    /// A GET to the IdP (absolute URL on its port).
    func idpGet(_ url: String) async throws -> TestResponse {
        let path = url.hasPrefix(idp.baseURL) ? String(url.dropFirst(idp.baseURL.count)) : url
        return try await TestHTTPClient.with(port: idp.port) { client in try await client.send(path, headers: [("Host", "127.0.0.1:\(idp.port)")]) }
    }

    /// A started sign-in: the IdP URL to visit and the pending-login cookie set.
    struct Started {
        var authorizeURL: String
        var cookies: [String: String]
    }

    func startLogin(rd: String = "/app/hello?x=1", cookies: [String: String] = [:]) async throws -> Started {
        let response = try await get("/.portcullis/login?rd=" + rd.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!, cookies: cookies)
        precondition(response.status == 302, "login answered \(response.status): \(response.text)")
        return Started(authorizeURL: response.location!, cookies: response.setCookies)
    }

    /// Picks `user` at the IdP; returns the gateway callback path and query.
    func pickUser(_ user: String, at started: Started) async throws -> String {
        let response = try await idpGet(started.authorizeURL + "&dev_user=" + user)
        precondition(response.status == 302, "authorize answered \(response.status): \(response.text)")
        let location = response.location!
        precondition(location.hasPrefix(origin), "IdP redirected to \(location)")
        return String(location.dropFirst(origin.count))
    }

    /// A whole sign-in; returns the callback's response and the cookies to use afterwards.
    func signIn(_ user: String, rd: String = "/app/hello?x=1") async throws -> (callback: TestResponse, cookies: [String: String]) {
        let started = try await startLogin(rd: rd)
        let callback = try await pickUser(user, at: started)
        let response = try await get(callback, cookies: started.cookies)
        var cookies = started.cookies
        for (name, value) in response.setCookies { cookies[name] = value.isEmpty ? nil : value }
        return (response, cookies)
    }
}

extension TestResponse {
    var location: String? { head.headers.first(name: "location") }

    /// Cookies set by the response: name → value ("" for a deletion).
    var setCookies: [String: String] {
        var result: [String: String] = [:]
        for header in head.headers["set-cookie"] {
            let pair = header.split(separator: ";", maxSplits: 1)[0]
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let value = parts.count > 1 ? String(parts[1]) : ""
            result[String(parts[0])] = header.contains("Max-Age=0") ? "" : value
        }
        return result
    }
}
