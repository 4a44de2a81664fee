import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix
import PortcullisCore
import PortcullisTestSupport
@testable import PortcullisDevIdP

/// A response as a test sees it.
struct TestResponse {
    var status: Int
    var headers: [(String, String)]
    var body: String

    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    var location: String? { header("location") }
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }
    /// Query parameters of the `Location` header.
    var locationParameters: [String: String] {
        guard let location, let components = URLComponents(string: location) else { return [:] }
        return Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { a, _ in a })
    }
}

/// A running IdP with the demo directory plus an HTTP client that does NOT follow
/// redirects (AsyncHTTPClient does by default, which would hide every OAuth redirect).
struct TestIdP {
    static let clientID = "11111111-2222-4333-8444-555555555555"
    static let secret = "s3cret-value"
    /// Carries its own query, so the IdP must append with `&`.
    static let redirectURI = "https://app.test/.portcullis/callback?app=1"
    static let postLogoutURI = "https://app.test/signed-out"
    static let frontchannelURL = "https://app.test/.portcullis/frontchannel-logout"
    static let contoso = DevIdPDirectory.demoContosoTenantID

    let idp: DevIdentityProvider
    let http: HTTPClient
    let clock: TestClock

    static var directory: DevIdPDirectory {
        DevIdPDirectory.demo(
            clientId: clientID, clientSecret: secret, redirectURI: redirectURI, postLogoutRedirectURI: postLogoutURI,
            frontchannelLogoutURL: frontchannelURL)
    }

    /// Runs `body` against a fresh IdP and always shuts both down.
    static func with<T>(
        directory: DevIdPDirectory = TestIdP.directory, _ body: (TestIdP) async throws -> T
    ) async throws -> T {
        let clock = TestClock()
        let idp = try await DevIdentityProvider.start(
            host: "127.0.0.1", port: 0, directory: directory, group: MultiThreadedEventLoopGroup.singleton,
            now: { clock.now() })
        let http = HTTPClient(
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))
        let test = TestIdP(idp: idp, http: http, clock: clock)
        do {
            let result = try await body(test)
            try await http.shutdown()
            await idp.close()
            return result
        } catch {
            try? await http.shutdown()
            await idp.close()
            throw error
        }
    }

    var base: String { idp.baseURL }

    func send(
        _ url: String, method: String = "GET", headers: [(String, String)] = [], body: String? = nil
    ) async throws -> TestResponse {
        var request = HTTPClientRequest(url: url.hasPrefix("http") ? url : base + url)
        request.method = .init(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await http.execute(request, timeout: .seconds(30))
        let collected = try await response.body.collect(upTo: 1 << 20)
        return TestResponse(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: String(buffer: collected))
    }

    func postForm(_ path: String, _ form: [(String, String)], headers: [(String, String)] = []) async throws -> TestResponse {
        let body = form.map { Self.encode($0.0) + "=" + Self.encode($0.1) }.joined(separator: "&")
        return try await send(
            path, method: "POST", headers: [("Content-Type", "application/x-www-form-urlencoded")] + headers, body: body)
    }

    /// The authorize URL a gateway would send the browser to.
    func authorizeURL(
        tenant: String = TestIdP.contoso, user: String? = nil, scope: String = "openid profile email offline_access",
        challenge: String?, nonce: String = "n-0S6_WzA2Mj", state: String = "af0ifjsldkj", clientID: String = TestIdP.clientID,
        redirectURI: String = TestIdP.redirectURI, extra: [(String, String)] = []
    ) -> String {
        var query: [(String, String)] = [
            ("client_id", clientID), ("response_type", "code"), ("redirect_uri", redirectURI), ("scope", scope),
            ("state", state), ("nonce", nonce),
        ]
        if let challenge { query += [("code_challenge", challenge), ("code_challenge_method", "S256")] }
        if let user { query.append(("dev_user", user)) }
        query += extra
        return "\(base)/\(tenant)/oauth2/v2.0/authorize?" + query.map { Self.encode($0.0) + "=" + Self.encode($0.1) }.joined(separator: "&")
    }

    /// Signs `user` in non-interactively and returns the code and the verifier that redeems it;
    /// `extra` adds authorize parameters (`claims`, …).
    func signIn(
        _ user: String, tenant: String = TestIdP.contoso, scope: String = "openid profile email offline_access",
        nonce: String = "n-0S6_WzA2Mj", clientID: String = TestIdP.clientID, extra: [(String, String)] = []
    ) async throws -> (code: String, verifier: String, sessionState: String) {
        let pkce = PKCE()
        let response = try await send(
            authorizeURL(
                tenant: tenant, user: user, scope: scope, challenge: pkce.challenge, nonce: nonce, clientID: clientID,
                extra: extra))
        guard response.status == 302, let code = response.locationParameters["code"] else {
            throw TestFailure("sign-in of \(user) did not redirect with a code: \(response.status) \(response.location ?? response.body)")
        }
        return (code, pkce.verifier, response.locationParameters["session_state"] ?? "")
    }

    /// Redeems a code with the client secret.
    func redeem(_ code: String, verifier: String, tenant: String = TestIdP.contoso) async throws -> TestResponse {
        try await postForm(
            "/\(tenant)/oauth2/v2.0/token",
            [
                ("grant_type", "authorization_code"), ("client_id", Self.clientID), ("client_secret", Self.secret),
                ("code", code), ("redirect_uri", Self.redirectURI), ("code_verifier", verifier),
            ])
    }

    func refresh(_ token: String) async throws -> TestResponse {
        try await postForm(
            "/\(Self.contoso)/oauth2/v2.0/token",
            [
                ("grant_type", "refresh_token"), ("client_id", Self.clientID), ("client_secret", Self.secret),
                ("refresh_token", token),
            ])
    }

    /// Signs in and redeems: the token response's JSON.
    func tokens(
        for user: String, scope: String = "openid profile email offline_access", extra: [(String, String)] = []
    ) async throws -> [String: Any] {
        let (code, verifier, _) = try await signIn(user, scope: scope, extra: extra)
        let response = try await redeem(code, verifier: verifier)
        guard response.status == 200 else { throw TestFailure("redeem failed: \(response.body)") }
        return response.json
    }

    static func encode(_ string: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return string.addingPercentEncoding(withAllowedCharacters: allowed) ?? string
    }
}

/// An RFC 7636 verifier and its S256 challenge.
struct PKCE {
    let verifier = TestBase64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255) })
    var challenge: String { TestBase64URL.encode(SHA256.hash(data: Data(verifier.utf8))) }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The tests' own base64url and JWT decoding, independent of the IdP's.
enum TestBase64URL {
    static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: some StringProtocol) -> Data? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        return Data(base64Encoded: base64)
    }

    /// The header or payload (part 0 or 1) of a compact JWT as a dictionary.
    static func jwtPart(_ token: String, _ index: Int) -> [String: Any] {
        let parts = token.split(separator: ".")
        guard parts.count == 3, let data = decode(parts[index]) else { return [:] }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }
}
