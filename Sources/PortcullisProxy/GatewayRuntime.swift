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
    /// How long a client connection's single timer may sleep: no longer than the shortest
    /// timeout it enforces, so a deadline set while it sleeps is never passed unnoticed.
    let connectionTimerInterval: TimeAmount
    let clientIdleTimeout: TimeAmount

    public init(config: GatewayConfig, signIn: SignInService? = nil) {
        precondition(signIn != nil || !config.hasSignIn, "a config with sign-in needs its SignInService")
        self.config = config
        self.signIn = signIn
        self.routeTable = RouteTable(routes: config.routes)
        self.headerRules = HeaderRules(identityHeaders: config.identityHeaders)
        let routes = config.routes.map(RouteTarget.init)
        self.routes = routes
        self.forwardedProto = config.publicURL.scheme
        self.forwardedPort = String(config.publicURL.port)
        self.readiness = ReadinessProbe(hosts: Set(config.routes.map(\.upstream.host)))
        let clientIdleTimeout = TimeAmount.fromSeconds(config.limits.clientIdleTimeout)
        self.clientIdleTimeout = clientIdleTimeout
        self.connectionTimerInterval = routes.reduce(clientIdleTimeout) { shortest, route in
            min(shortest, route.idleTimeout, route.responseTimeout)
        }
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

    init(_ route: RouteConfig) {
        config = route
        key = UpstreamKey(host: route.upstream.host, port: route.upstream.port)
        upstreamAuthority = route.upstream.authority
        address = try? SocketAddress(ipAddress: route.upstream.host, port: route.upstream.port)
        connectTimeout = .fromSeconds(route.timeouts.connect)
        responseTimeout = .fromSeconds(route.timeouts.response)
        idleTimeout = .fromSeconds(route.timeouts.idle)
    }

    /// The client path's part that follows the route's upstream base path (`config.upstream.path`).
    func upstreamRest(for path: Substring) -> Substring {
        guard config.stripPrefix && config.pathPrefix != "/" else { return path }
        let rest = path.dropFirst(config.pathPrefix.utf8.count)
        return rest.isEmpty ? "/" : rest
    }
}

extension TimeAmount {
    static func fromSeconds(_ value: Double) -> TimeAmount { .nanoseconds(Int64(value * 1_000_000_000)) }
}
