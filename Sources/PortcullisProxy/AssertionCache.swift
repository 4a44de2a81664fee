import Foundation
import Logging
import PortcullisAuth
import PortcullisCore

/// Signed identity assertions of one event loop, per identity and route, reused until they
/// come near their expiry: a request costs a dictionary lookup, not an ECDSA signature.
/// Loop-bound (no locks): each loop signs its own, a handful per user per lifetime.
final class AssertionCache {
    private struct Entry {
        var identity: Identity
        var runtime: GatewayRuntime
        var token: String
        /// Unix seconds after which a new assertion is signed (a quarter of the lifetime
        /// before `exp`, at least 5 s), so an upstream never receives one about to expire.
        var renewAt: Int
    }

    private var entries: [String: Entry] = [:]
    /// More distinct (user, route) pairs than this on one loop: start over rather than grow.
    static let capacity = 20_000

    /// The assertion for `identity` on `route`, signed now if none is cached or it is due for
    /// renewal; nil (and an error logged) if signing failed.
    func assertion(for identity: Identity, route: RouteTarget, runtime: GatewayRuntime, now: Date, logger: Logger) -> String? {
        guard let signer = runtime.assertionSigner, let settings = runtime.config.assertion else { return nil }
        let key = route.config.name + "\u{1F}" + identity.username + "\u{1F}" + identity.method.rawValue
        let seconds = Int(now.timeIntervalSince1970)
        if let entry = entries[key], entry.runtime === runtime, entry.identity == identity, seconds < entry.renewAt {
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
        entries[key] = Entry(identity: identity, runtime: runtime, token: token, renewAt: claims.exp - max(settings.lifetime / 4, 5))
        return token
    }
}
