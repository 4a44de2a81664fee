import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// An Entra-shaped OpenID Connect provider for local demos and tests — never for production.
///
/// It speaks the Microsoft identity platform v2.0 protocol closely enough that a gateway
/// configured for Entra ID works against it unchanged: discovery per tenant and for
/// `organizations`/`common`, a JWKS without `alg`, the code flow with mandatory PKCE,
/// `client_secret` and `private_key_jwt` client authentication, rotating refresh tokens,
/// group overage with a paged Graph endpoint, front-channel logout and Entra's error format.
///
/// There are no passwords: the authorize endpoint shows a user picker, and a non-browser
/// client picks a user by adding `dev_user=KEY` to the authorize URL.
public final class DevIdentityProvider: Sendable {
    private let channel: any Channel
    let authority: DevIdPAuthority
    /// Open client connections, so ``close()`` takes the IdP down for keep-alive clients too.
    private let connections: Connections

    private init(channel: any Channel, authority: DevIdPAuthority, connections: Connections) {
        self.channel = channel
        self.authority = authority
        self.connections = connections
    }

    final class Connections: Sendable {
        private let open = NIOLockedValueBox<[ObjectIdentifier: any Channel]>([:])

        func add(_ channel: any Channel) {
            let key = ObjectIdentifier(channel)
            open.withLockedValue { $0[key] = channel }
            channel.closeFuture.whenComplete { _ in _ = self.open.withLockedValue { $0.removeValue(forKey: key) } }
        }

        func closeAll() async {
            for channel in open.withLockedValue({ Array($0.values) }) { try? await channel.close() }
        }
    }

    /// Binds the IdP and serves until ``close()``.
    ///
    /// - Parameters:
    ///   - host: address to listen on; the base URL uses `127.0.0.1` for a wildcard address.
    ///   - port: `0` picks a free port (see ``port``).
    ///   - directory: tenants, clients and users; rejected if it has ``DevIdPDirectory/problems``.
    public static func start(
        host: String = "127.0.0.1", port: Int = 0, directory: DevIdPDirectory, group: any EventLoopGroup
    ) async throws -> DevIdentityProvider {
        try await start(host: host, port: port, directory: directory, group: group, now: { Date() })
    }

    /// `start` with an injectable clock, for tests of expiry.
    static func start(
        host: String, port: Int, directory: DevIdPDirectory, group: any EventLoopGroup,
        now: @escaping @Sendable () -> Date
    ) async throws -> DevIdentityProvider {
        let problems = directory.problems
        if !problems.isEmpty { throw DevIdPDirectoryError(problems: problems) }
        let authority = try DevIdPAuthority(directory: directory, now: now)
        let router = DevIdPRouter(authority: authority)
        let connections = Connections()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(DevIdPHTTPHandler(router: router))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        authority.baseURL = Self.baseURL(host: host, port: channel.localAddress?.port ?? port)
        return DevIdentityProvider(channel: channel, authority: authority, connections: connections)
    }

    public var port: Int { channel.localAddress?.port ?? 0 }

    /// `http://127.0.0.1:PORT` (no trailing slash): prefix of every issuer and endpoint.
    public var baseURL: String { authority.baseURL }

    /// Makes a new key current; the old one stays in the JWKS when `keepPrevious`, as Entra
    /// keeps publishing a key after rolling over. Without it, tokens signed by the old key
    /// no longer verify, which tests a gateway's refetch-on-unknown-`kid` path.
    public func rotateSigningKey(keepPrevious: Bool = true) {
        // Generating a 2048-bit key only fails if the system's random source does.
        _ = try? authority.rotateSigningKey(keepPrevious: keepPrevious)
    }

    /// Changes a user (no effect for an unknown key); tokens issued later, including by
    /// refresh, reflect the change, as Entra re-evaluates assignments at refresh.
    public func updateUser(key: String, _ change: @Sendable (inout DevIdPUser) -> Void) {
        authority.state.withLockedValue { state in
            guard let index = state.directory.users.firstIndex(where: { $0.key == key }) else { return }
            change(&state.directory.users[index])
        }
    }

    public var directory: DevIdPDirectory { authority.state.withLockedValue { $0.directory } }

    /// Stops listening and closes every open connection: the IdP is down.
    public func close() async {
        try? await channel.close()
        await connections.closeAll()
    }

    static func baseURL(host: String, port: Int) -> String {
        switch host {
        case "0.0.0.0", "::", "": return "http://127.0.0.1:\(port)"
        case let ipv6 where ipv6.contains(":"): return "http://[\(ipv6)]:\(port)"
        default: return "http://\(host):\(port)"
        }
    }
}
