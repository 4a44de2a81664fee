import NIOCore
import PortcullisCore

/// Everything the data plane needs to serve requests under one config, precomputed once so
/// the per-request path only looks things up. Immutable: a reload builds a new one and new
/// connections pick it up.
public final class GatewayRuntime: Sendable {
    public let config: GatewayConfig
    let routeTable: RouteTable
    let headerRules: HeaderRules
    let routes: [RouteTarget]
    /// `X-Forwarded-Proto` for every upstream request: the scheme clients used.
    let forwardedProto: String
    let forwardedPort: String
    let readiness: ReadinessProbe
    /// Entra sign-in and sessions; nil when every route is public.
    let signIn: SignInService?

    public init(config: GatewayConfig, signIn: SignInService? = nil) {
        precondition(signIn != nil || !config.hasSignIn, "a config with sign-in needs its SignInService")
        self.config = config
        self.signIn = signIn
        self.routeTable = RouteTable(routes: config.routes)
        self.headerRules = HeaderRules(identityHeaders: config.identityHeaders)
        self.routes = config.routes.map(RouteTarget.init)
        self.forwardedProto = config.publicURL.scheme
        self.forwardedPort = String(config.publicURL.port)
        self.readiness = ReadinessProbe(hosts: Set(config.routes.map(\.upstream.host)))
    }
}

/// A route's upstream, resolved into what the proxy uses per request.
struct RouteTarget: Sendable {
    let config: RouteConfig
    let key: UpstreamKey
    /// Set when the upstream host is an IP literal, so connecting skips name resolution.
    let address: SocketAddress?
    let connectTimeout: TimeAmount
    let responseTimeout: TimeAmount
    let idleTimeout: TimeAmount

    init(_ route: RouteConfig) {
        config = route
        key = UpstreamKey(host: route.upstream.host, port: route.upstream.port)
        address = try? SocketAddress(ipAddress: route.upstream.host, port: route.upstream.port)
        connectTimeout = .fromSeconds(route.timeouts.connect)
        responseTimeout = .fromSeconds(route.timeouts.response)
        idleTimeout = .fromSeconds(route.timeouts.idle)
    }

    /// The path to request upstream for a client path on this route.
    func upstreamPath(for path: Substring) -> Substring {
        var rest = path
        if config.stripPrefix && config.pathPrefix != "/" {
            rest = path.dropFirst(config.pathPrefix.utf8.count)
            if rest.isEmpty { rest = "/" }
        }
        let base = config.upstream.path
        return base.isEmpty ? rest : Substring(base + rest)
    }
}

extension TimeAmount {
    static func fromSeconds(_ value: Double) -> TimeAmount { .nanoseconds(Int64(value * 1_000_000_000)) }
}
