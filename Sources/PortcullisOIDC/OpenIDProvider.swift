import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import PortcullisAuth
import PortcullisCore
import Synchronization

/// The gateway's side of OpenID Connect with Entra (or any compliant provider): discovery,
/// signing keys, code exchange, refresh and ID-token validation. Control plane only: called
/// for sign-in and revalidation, never for an authenticated request.
///
/// Provider documents are cached and the last good copy is kept when a fetch fails, so a
/// provider hiccup does not turn into failed sign-ins while cached data is still valid.
public final class OpenIDProvider: Sendable {
    public let config: EntraConfig
    let http: HTTPClient
    let logger: Logger
    let clientAssertion: ClientAssertionSigner?
    let now: @Sendable () -> Date
    /// Told of every call to the provider (metrics): which call, how long, whether it failed.
    let observe: CallObserver?
    private let state = Mutex(CacheState())

    /// The provider's calls, as metrics name them.
    public enum Call: String, Sendable, CaseIterable {
        case discovery, keys, token, userinfo, graph
    }

    /// `(call, seconds, failed)`; a failure is no answer in time, an unreachable provider, or
    /// an answer that is not 2xx.
    public typealias CallObserver = @Sendable (Call, Double, Bool) -> Void

    struct CacheState {
        var metadata: ProviderMetadata?
        var metadataFetched: Date?
        var keys: SigningKeySet?
        var schedule = KeyRefreshSchedule()
        var backgroundRefreshRunning = false
    }

    /// Discovery documents are refetched after this long (keys have their own schedule).
    static let metadataLifetime: TimeInterval = 24 * 3600
    /// Largest provider answer read (discovery, keys, tokens, a Graph page).
    static let maximumBodyBytes = 1 << 20

    public init(
        config: EntraConfig, http: HTTPClient, clientAssertion: ClientAssertionSigner? = nil, logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }, observe: CallObserver? = nil
    ) {
        self.config = config
        self.http = http
        self.clientAssertion = clientAssertion
        self.logger = logger
        self.now = now
        self.observe = observe
    }

    /// An HTTP client set up for provider calls: no redirects followed (a redirect from a
    /// token endpoint is never legitimate), no decompression, bounded timeouts.
    public static func makeHTTPClient(timeout: Double) -> HTTPClient {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(min(timeout, 5) * 1000)), read: .milliseconds(Int64(timeout * 1000))),
            decompression: .disabled)
        configuration.httpVersion = .http1Only
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    // MARK: Discovery and keys

    public func metadata() async throws(ProviderError) -> ProviderMetadata {
        let (cached, fetched) = state.withLock { ($0.metadata, $0.metadataFetched) }
        if let cached, let fetched, now().timeIntervalSince(fetched) < Self.metadataLifetime { return cached }
        do {
            let body = try await get(config.effectiveDiscoveryURL, call: .discovery, what: "the discovery document")
            let metadata = try ProviderMetadata(json: body)
            let time = now()
            state.withLock {
                $0.metadata = metadata
                $0.metadataFetched = time
            }
            return metadata
        } catch {
            if let cached {
                logger.warning("keeping the cached discovery document: \(error)")
                return cached
            }
            throw error
        }
    }

    /// The signing keys; fetched when missing, refreshed in the background when stale, and
    /// fetched at once (rate-limited) when a token names a `kid` not in the set.
    func signingKeys(unknownKid: Bool = false) async throws(ProviderError) -> SigningKeySet {
        let time = now()
        enum Plan { case use(SigningKeySet), fetch, background(SigningKeySet) }
        let plan: Plan = state.withLock { state in
            guard let keys = state.keys else { return .fetch }
            if unknownKid && state.schedule.allowForcedFetch(now: time) { return .fetch }
            if state.schedule.isStale(now: time) && !state.backgroundRefreshRunning {
                state.backgroundRefreshRunning = true
                return .background(keys)
            }
            return .use(keys)
        }
        switch plan {
        case .use(let keys):
            return keys
        case .fetch:
            do {
                return try await fetchKeys()
            } catch {
                if let keys = state.withLock({ $0.keys }) {
                    logger.warning("keeping the last good signing keys: \(error)")
                    return keys
                }
                throw error
            }
        case .background(let keys):
            Task {
                do { _ = try await self.fetchKeys() } catch { self.logger.warning("signing key refresh failed, keeping the last good keys: \(error)") }
                self.state.withLock { $0.backgroundRefreshRunning = false }
            }
            return keys
        }
    }

    private func fetchKeys() async throws(ProviderError) -> SigningKeySet {
        let metadata = try await metadata()
        let body = try await get(metadata.jwksURI, call: .keys, what: "the signing keys")
        let keys: SigningKeySet
        do {
            keys = try await SigningKeySet(jwksJSON: body)
        } catch {
            throw ProviderError(.badResponse, "the signing keys document is not a valid JWKS")
        }
        guard !keys.keyIDs.isEmpty else { throw ProviderError(.badResponse, "the provider publishes no RSA signing keys") }
        let time = now()
        state.withLock {
            $0.keys = keys
            $0.schedule.fetched(at: time)
        }
        return keys
    }

    // MARK: ID tokens

    /// Validates an ID token against this provider's keys and the config; an unknown `kid`
    /// leads to one (rate-limited) key refetch before giving up.
    public func validate(idToken: String, nonce: String?) async -> Result<[String: ClaimValue], ValidationFailure> {
        let metadata: ProviderMetadata
        var keys: SigningKeySet
        do {
            metadata = try await self.metadata()
            keys = try await signingKeys()
        } catch {
            return .failure(.provider(error))
        }
        let expecting = IDTokenExpectations(
            clientId: config.clientId,
            issuer: metadata.issuer.contains("{tenantid}") ? .tenantTemplate(metadata.issuer) : .exact(metadata.issuer),
            allowedTenants: Set(config.allowedTenants), nonce: nonce, now: now())
        var result = await IDTokenValidator.validate(idToken, keys: keys, expecting: expecting)
        if case .failure(let rejection) = result, rejection.code == .unknownKey {
            do {
                let refreshed = try await signingKeys(unknownKid: true)
                if refreshed.keyIDs != keys.keyIDs {
                    keys = refreshed
                    result = await IDTokenValidator.validate(idToken, keys: keys, expecting: expecting)
                }
            } catch {
                return .failure(.provider(error))
            }
        }
        return result.mapError { .token($0) }
    }

    public enum ValidationFailure: Error, Sendable, CustomStringConvertible {
        case provider(ProviderError)
        case token(IDTokenRejection)

        public var description: String {
            switch self {
            case .provider(let error): error.description
            case .token(let rejection): rejection.description
            }
        }
    }

    // MARK: Token endpoint

    public func exchange(code: String, codeVerifier: String, redirectURI: String) async throws(ProviderError) -> TokenResponse {
        let tokens = try await tokenRequest([
            ("grant_type", "authorization_code"), ("code", code), ("code_verifier", codeVerifier),
            ("redirect_uri", redirectURI), ("scope", config.scopes.joined(separator: " ")),
        ])
        guard tokens.idToken != nil else {
            throw ProviderError(.badResponse, "the token endpoint returned no ID token (is \"openid\" among the scopes?)")
        }
        return tokens
    }

    /// Entra wants the scopes again on a refresh; RFC 6749 §6 makes them optional (and some
    /// providers refuse scopes they did not grant, such as `offline_access`), so an
    /// `invalid_scope` answer is retried once without them, which means "as granted".
    public func refresh(refreshToken: String) async throws(ProviderError) -> TokenResponse {
        do {
            return try await tokenRequest([
                ("grant_type", "refresh_token"), ("refresh_token", refreshToken), ("scope", config.scopes.joined(separator: " ")),
            ])
        } catch where error.oauthError == "invalid_scope" {
            return try await tokenRequest([("grant_type", "refresh_token"), ("refresh_token", refreshToken)])
        }
    }

    private func tokenRequest(_ parameters: [(String, String)]) async throws(ProviderError) -> TokenResponse {
        let metadata = try await metadata()
        var form = parameters
        var request = HTTPClientRequest(url: metadata.tokenEndpoint)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        switch config.credential {
        case .secret(let secret):
            if metadata.tokenEndpointAuthMethods.contains("client_secret_post") {
                form.append(("client_id", config.clientId))
                form.append(("client_secret", secret.value))
            } else {
                let pair = "\(FormURLEncoding.encode(config.clientId)):\(FormURLEncoding.encode(secret.value))"
                request.headers.add(name: "Authorization", value: "Basic " + Data(pair.utf8).base64EncodedString())
            }
        case .certificate:
            guard let clientAssertion else { throw ProviderError(.badResponse, "the client certificate is not loaded") }
            let assertion: String
            do {
                assertion = try await clientAssertion.assertion(audience: metadata.tokenEndpoint, now: now())
            } catch {
                throw ProviderError(.badResponse, "cannot sign a client assertion")
            }
            form.append(("client_id", config.clientId))
            form.append(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"))
            form.append(("client_assertion", assertion))
        }
        request.body = .bytes(ByteBuffer(string: FormURLEncoding.encode(form)))
        let (status, body) = try await send(request, call: .token, what: "the token endpoint")
        guard status == 200 else { throw TokenResponse.error(status: status, json: body) }
        return try TokenResponse(json: body)
    }

    // MARK: UserInfo

    /// The user's claims from the provider's UserInfo endpoint (OIDC Core §5.3), for a refresh
    /// that brought no ID token; nil when the provider has no such endpoint. The access token
    /// goes only to the endpoint the discovery document names.
    public func userInfo(accessToken: String) async throws(ProviderError) -> [String: ClaimValue]? {
        guard let endpoint = try await metadata().userinfoEndpoint else { return nil }
        var request = HTTPClientRequest(url: endpoint)
        request.headers.add(name: "Authorization", value: "Bearer \(accessToken)")
        request.headers.add(name: "Accept", value: "application/json")
        let (status, body) = try await send(request, call: .userinfo, what: "the userinfo endpoint")
        guard status == 200 else {
            throw ProviderError(status == 401 || status == 403 ? .oauth : .badResponse, "the userinfo endpoint answered HTTP \(status)")
        }
        guard case .object(let claims)? = try? JSONValue.parse(body) else {
            throw ProviderError(.badResponse, "the userinfo endpoint's answer is not a JSON object")
        }
        return claims
    }

    // MARK: Microsoft Graph

    /// The user's group ids from Graph `transitiveMemberOf`, every page, groups only
    /// (directory roles and administrative units are skipped). Paging links must stay on the
    /// Graph origin: the access token is never sent anywhere else.
    public func groups(accessToken: String) async throws(ProviderError) -> [String] {
        let base = config.graphURL.description
        var next: String? = base + "/v1.0/me/transitiveMemberOf?$select=id"
        var groups: [String] = []
        var pages = 0
        while let url = next {
            pages += 1
            guard pages <= 200 else { throw ProviderError(.badResponse, "Microsoft Graph returned too many pages of groups") }
            guard case .success(let parsed) = HTTPURL.parse(url.components(separatedBy: "?")[0]), parsed.origin == config.graphURL.origin
            else { throw ProviderError(.badResponse, "Microsoft Graph's next page is on another host") }
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Authorization", value: "Bearer \(accessToken)")
            request.headers.add(name: "Accept", value: "application/json")
            let (status, body) = try await send(request, call: .graph, what: "Microsoft Graph")
            guard status == 200, case .object(let page)? = try? JSONValue.parse(body), case .array(let items)? = page["value"] else {
                throw ProviderError(.badResponse, "Microsoft Graph answered HTTP \(status) for the user's groups")
            }
            for case .object(let item) in items where item["@odata.type"]?.stringValue == "#microsoft.graph.group" {
                if let id = item["id"]?.stringValue { groups.append(id) }
            }
            next = page["@odata.nextLink"]?.stringValue
        }
        return groups
    }

    // MARK: HTTP

    private func get(_ url: String, call: Call, what: String) async throws(ProviderError) -> Data {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "application/json")
        let (status, body) = try await send(request, call: call, what: what)
        guard status == 200 else { throw ProviderError(.badResponse, "\(what) answered HTTP \(status)") }
        return body
    }

    private func send(_ request: HTTPClientRequest, call: Call, what: String) async throws(ProviderError) -> (UInt, Data) {
        let started = ContinuousClock.now
        var failed = true
        defer {
            observe?(call, (ContinuousClock.now - started).inSeconds, failed)
        }
        do {
            let response = try await http.execute(request, timeout: .milliseconds(Int64(config.requestTimeout * 1000)))
            let body = try await response.body.collect(upTo: Self.maximumBodyBytes)
            failed = !(200..<300).contains(response.status.code)
            return (response.status.code, Data(buffer: body))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw ProviderError(.unreachable, "\(what) did not answer in time")
        } catch is NIOTooManyBytesError {
            throw ProviderError(.badResponse, "\(what) sent an oversized answer")
        } catch {
            throw ProviderError(.unreachable, "\(what) is unreachable")
        }
    }
}
