import NIOCore
import NIOSSL
import PortcullisAuth
import PortcullisCore
import Tracing

/// Everything the data plane needs to serve requests under one config, precomputed once so
/// the per-request path only looks things up. Immutable: a reload builds a new one and every
/// event loop swaps it in for its next request (see ``GatewayLoops``), while requests in
/// flight finish on the one they started with.
public final class GatewayRuntime: Sendable {
    public let config: GatewayConfig
    let routeTable: RouteTable
    let headerRules: HeaderRules
    let routes: [RouteTarget]
    /// `X-Forwarded-Proto` for every upstream request: the scheme clients used.
    let forwardedProto: String
    let forwardedPort: String
    let readiness: ReadinessProbe
    /// The process's sessions; the rules (keys, cookies, lifetimes, revalidators) are this config's.
    let gate: SessionGate
    let sessionRules: SessionRules
    /// The configured sign-in methods, asked in order for their endpoints.
    let signInMethods: [any SignInMethod]
    /// The gateway's cookies, removed from requests sent upstream; nil without sign-in.
    let ourCookies: CookieSettings?
    /// How long a client connection's single timer may sleep: no longer than the shortest
    /// timeout it enforces, so a deadline set while it sleeps is never passed unnoticed.
    let connectionTimerInterval: TimeAmount
    let clientIdleTimeout: TimeAmount
    let requestHeadTimeout: TimeAmount
    /// Signs the identity assertion; nil without the `assertion` section.
    let assertionSigner: AssertionSigner?
    /// TLS for new client connections (`listen.tls`), nil for plain HTTP. Per config, so a
    /// reload after a certificate renewal serves the new one to the next connection.
    let tlsContext: NIOSSLContext?
    /// Whether TLS connections may negotiate HTTP/2 (`listen.tls.http2`).
    let offersHTTP2: Bool
    /// The `Strict-Transport-Security` value sent on every answer (`listen.hsts`), or nil.
    let hsts: String?
    /// What the plain-HTTP redirect listener answers (`listen.httpRedirect`), or nil.
    let httpsRedirect: HTTPSRedirect?
    /// The process's tracer when `tracing` is on (see ``RequestTracing``).
    let tracer: (any Tracer)?
    /// `tracer != nil`, read per request without copying the existential.
    let tracesRequests: Bool

    init(
        config: GatewayConfig, services: GatewayServices, signInMethods: [any SignInMethod], revalidators: [Identity.Method: any SessionRevalidator],
        assertionSigner: AssertionSigner? = nil, tlsContext: NIOSSLContext? = nil, upstreamTLS: [String: NIOSSLContext?] = [:]
    ) {
        self.config = config
        self.assertionSigner = assertionSigner
        self.tlsContext = tlsContext
        self.offersHTTP2 = config.listen.tls?.http2 ?? false
        self.hsts = config.listen.hsts?.value
        self.gate = services.gate
        self.signInMethods = signInMethods
        let keyRing = config.session.keys.isEmpty ? services.ephemeralKeyRing : KeyRing(keys: config.session.keys)
        sessionRules = SessionRules(config: config, keyRing: keyRing, revalidators: revalidators, created: services.now())
        ourCookies = config.hasSignIn ? sessionRules.cookies : nil
        self.routeTable = RouteTable(routes: config.routes)
        self.httpsRedirect =
            config.listen.httpRedirect == nil
            ? nil : HTTPSRedirect(routes: routeTable, httpsPort: config.publicURL.isTLS ? config.publicURL.port : config.listen.port)
        let routes = config.routes.map { RouteTarget($0, config: config, tls: upstreamTLS[$0.name] ?? nil) }
        // Every name any route writes is stripped from every client request on every route, and
        // the trace fields while the gateway writes its own.
        self.tracer = services.tracer
        self.tracesRequests = services.tracer != nil
        self.headerRules = HeaderRules(
            identityHeaders: config.identityHeaders,
            alsoStrip: routes.flatMap(\.headerPlan.headerNames) + (services.tracer == nil ? [] : RequestTracing.fieldNames))
        self.routes = routes
        // X-Forwarded-Proto follows the listener: TLS here, or the public URL's scheme when a
        // load balancer in front terminates it.
        self.forwardedProto = config.listen.tls != nil ? "https" : config.publicURL.scheme
        self.forwardedPort = String(config.publicURL.port)
        self.readiness = ReadinessProbe(hosts: Set(config.routes.map(\.upstream.host)))
        let clientIdleTimeout = TimeAmount.fromSeconds(config.limits.clientIdleTimeout)
        self.clientIdleTimeout = clientIdleTimeout
        let requestHeadTimeout = TimeAmount.fromSeconds(config.limits.requestHeadTimeout)
        self.requestHeadTimeout = requestHeadTimeout
        self.connectionTimerInterval = routes.reduce(min(clientIdleTimeout, requestHeadTimeout)) { shortest, route in
            min(shortest, route.idleTimeout, route.responseTimeout)
        }
    }

    /// The runtime for `config`, with its sign-in methods built (Entra's client certificate
    /// is loaded here, so an unusable one fails the start or the reload, not a sign-in).
    public static func make(config: GatewayConfig, services: GatewayServices) async throws -> GatewayRuntime {
        var methods: [any SignInMethod] = []
        var revalidators: [Identity.Method: any SessionRevalidator] = [:]
        // Local sign-in first: it decides whether Entra's login endpoint is offered at all.
        if let local = LocalSignIn(config: config, services: services) {
            methods.append(local)
            revalidators[.local] = local
        }
        if let entra = try await EntraSignIn.make(config: config, services: services) {
            methods.append(entra)
            revalidators[.sso] = entra
        }
        // A credential about to expire stops every sign-in at once: say so at start and on reload.
        for expiry in CredentialExpiry.all(in: config) {
            if let warning = expiry.warning(now: services.now()) { services.logger.warning("\(warning)") }
        }
        return GatewayRuntime(
            config: config, services: services, signInMethods: methods, revalidators: revalidators,
            assertionSigner: try assertionSigner(config: config, services: services), tlsContext: try tlsContext(config: config),
            upstreamTLS: try upstreamTLSContexts(config: config, services: services))
    }

    /// A client TLS context per `https` route: verification against the system roots or the
    /// route's `caFile`, an optional client certificate, TLS 1.2+. A route that turns
    /// verification off is warned about at every start and reload.
    static func upstreamTLSContexts(config: GatewayConfig, services: GatewayServices) throws -> [String: NIOSSLContext?] {
        var contexts: [String: NIOSSLContext?] = [:]
        for (index, route) in config.routes.enumerated() where route.upstream.isTLS {
            let settings = route.tls
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            do {
                if let ca = settings?.caPEM {
                    configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))
                }
                if let certificate = settings?.certificatePEM, let key = settings?.keyPEM {
                    configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)).map { .certificate($0) }
                    configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key.value.utf8), format: .pem))
                }
                if settings?.insecureSkipVerify == true {
                    configuration.certificateVerification = .none
                    services.logger.warning(
                        "routes[\(index)].tls.insecureSkipVerify is set: the upstream's certificate is NOT verified, so anyone on the network path can impersonate it and read the identity headers",
                        metadata: ["route": "\(route.name)"])
                }
                contexts[route.name] = try NIOSSLContext(configuration: configuration)
            } catch {
                throw ConfigError(issues: [ConfigIssue(path: "routes[\(index)].tls", reason: "cannot make a TLS client context: \(error)")])
            }
        }
        return contexts
    }

    /// The listener's TLS context: TLS 1.2 or newer, NIO's modern cipher suites, ALPN `h2`
    /// (unless `listen.tls.http2` is false) and `http/1.1`. An unusable certificate or key fails the start or the reload, naming the field.
    static func tlsContext(config: GatewayConfig) throws -> NIOSSLContext? {
        guard let tls = config.listen.tls else { return nil }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(tls.certificatePEM.utf8))
        } catch {
            throw ConfigError(issues: [ConfigIssue(path: "listen.tls.certificateFile", reason: "\"\(tls.certificateFile)\" holds no usable certificate")])
        }
        do {
            key = try NIOSSLPrivateKey(bytes: Array(tls.keyPEM.value.utf8), format: .pem)
        } catch {
            throw ConfigError(issues: [ConfigIssue(path: "listen.tls.keyFile", reason: "\"\(tls.keyFile)\" holds no usable private key (encrypted keys are not supported)")])
        }
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.applicationProtocols = tls.http2 ? ["h2", "http/1.1"] : ["http/1.1"]
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw ConfigError(issues: [ConfigIssue(path: "listen.tls", reason: "the certificate and key do not make a TLS context (do they belong together?): \(error)")])
        }
    }

    /// The assertion signer for `config`: its key file's keys, or the process's generated key
    /// (with a warning: upstreams must fetch the JWKS again after every restart). A key file
    /// that does not hold usable keys fails the start or the reload, naming the field.
    static func assertionSigner(config: GatewayConfig, services: GatewayServices) throws -> AssertionSigner? {
        guard let assertion = config.assertion else { return nil }
        guard let pem = assertion.keyPEM else {
            services.logger.warning(
                "assertion.keyFile is not set: assertions are signed with a key generated at start; upstreams must fetch /.portcullis/jwks.json again after every restart")
            return AssertionSigner(keys: services.generatedAssertionKeys)
        }
        do {
            return AssertionSigner(keys: try AssertionKeys(pem: pem.value))
        } catch {
            throw ConfigError(issues: [ConfigIssue(path: "assertion.keyFile", reason: "\"\(assertion.keyFile ?? "")\": \(error)")])
        }
    }

    /// The sign-in method that created sessions of `method`.
    func signInMethod(for method: Identity.Method) -> (any SignInMethod)? {
        signInMethods.first { $0.method == method }
    }
}

/// A route's upstream, resolved into what the proxy uses per request. A class, so an
/// exchange holds it with one reference count rather than copying every field.
final class RouteTarget: Sendable {
    let config: RouteConfig
    let key: UpstreamKey
    /// The upstream's `Host` value, computed once rather than per request.
    let upstreamAuthority: String
    /// Set when the upstream host is an IP literal, so connecting skips name resolution.
    let address: SocketAddress?
    let connectTimeout: TimeAmount
    let responseTimeout: TimeAmount
    let idleTimeout: TimeAmount
    /// Which identity headers this route sends, under which names.
    let headerPlan: IdentityHeaderPlan
    /// TLS to an `https` upstream, nil for `http`.
    let tls: NIOSSLContext?

    init(_ route: RouteConfig, config gateway: GatewayConfig, tls: NIOSSLContext? = nil) {
        config = route
        self.tls = tls
        headerPlan = IdentityHeaderPlan(route: route, names: gateway.identityHeaders, assertionConfigured: gateway.assertion != nil)
        key = UpstreamKey(
            host: route.upstream.host, port: route.upstream.port,
            tls: route.upstream.isTLS ? "tls:" + (route.tls?.poolIdentity ?? "system-roots") : "")
        upstreamAuthority = route.upstream.authority
        address = try? SocketAddress(ipAddress: route.upstream.host, port: route.upstream.port)
        connectTimeout = .fromSeconds(route.timeouts.connect)
        responseTimeout = .fromSeconds(route.timeouts.response)
        idleTimeout = .fromSeconds(route.timeouts.idle)
    }

    /// The client path's part that follows the route's upstream base path (`config.upstream.path`):
    /// the whole path, or with `stripPrefix` what follows the matched prefix (segment
    /// parameters of the prefix's last segment dropped, as the match skipped them).
    func upstreamRest(for path: Substring) -> Substring {
        guard config.stripPrefix && config.pathPrefix != "/" else { return path }
        let rest = RouteTable.remainder(of: path, after: config.pathPrefix, caseInsensitive: config.caseInsensitive) ?? path
        return rest.isEmpty ? "/" : rest
    }
}

extension TimeAmount {
    static func fromSeconds(_ value: Double) -> TimeAmount { .nanoseconds(Int64(value * 1_000_000_000)) }
}
