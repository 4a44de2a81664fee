import Foundation
import Logging
import PortcullisAuth
import PortcullisCore

/// Signed identity assertions of one event loop, per identity and route, reused until they
/// come near their expiry: a request costs a dictionary lookup, not an ECDSA signature.
/// Loop-bound (no locks): each loop signs its own, a handful per user per lifetime.
final class AssertionCache {
    /// The route by identity (a route belongs to one config, so a reload starts afresh), and
    /// who: no string is built per request.
    private struct Key: Hashable {
        var route: ObjectIdentifier
        var username: String
        var method: Identity.Method
    }

    private struct Entry {
        var identity: Identity
        /// Kept so the route object (and its identifier) lives as long as the entry.
        var route: RouteTarget
        var token: String
        /// Unix seconds after which a new assertion is signed (a quarter of the lifetime
        /// before `exp`, at least 5 s), so an upstream never receives one about to expire.
        var renewAt: Int
    }

    private var entries: [Key: Entry] = [:]
    /// More distinct (user, route) pairs than this on one loop: start over rather than grow.
    static let capacity = 20_000

    /// The assertion for `identity` on `route`, signed now if none is cached or it is due for
    /// renewal; nil (and an error logged) if signing failed or no signer is configured, which
    /// the caller answers with a refusal, never by forwarding without it.
    func assertion(for identity: Identity, route: RouteTarget, runtime: GatewayRuntime, now: Date, logger: Logger) -> String? {
        guard let signer = runtime.assertionSigner, let settings = runtime.config.assertion else {
            logger.error("a route sends the signed assertion but no signing key is loaded", metadata: ["route": "\(route.config.name)"])
            return nil
        }
        let key = Key(route: ObjectIdentifier(route), username: identity.username, method: identity.method)
        let seconds = Int(now.timeIntervalSince1970)
        if let entry = entries[key], entry.identity == identity, seconds < entry.renewAt {
            return entry.token
        }
        let username = route.headerPlan.username.flatMap { try? $0.username(for: identity).get() }
        let claims = AssertionClaims(
            identity: identity, username: username, permissions: route.config.permissions.permissions(for: identity),
            audience: settings.audience(forRoute: route.config.name), issuer: runtime.config.publicURL.origin, now: now,
            lifetime: settings.lifetime)
        let token: String
        do {
            token = try signer.sign(claims)
        } catch {
            logger.error("cannot sign the identity assertion", metadata: ["route": "\(route.config.name)", "error": "\(error)"])
            return nil
        }
        if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
        entries[key] = Entry(identity: identity, route: route, token: token, renewAt: claims.exp - max(settings.lifetime / 4, 5))
        return token
    }
}
