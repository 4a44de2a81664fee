import Foundation
import PortcullisAuth
import PortcullisCore
import PortcullisSessions

/// A sign-in method as the session gate sees it: how to confirm that a session it created
/// still stands. Entra refreshes with the refresh token; a local method re-reads its users.
/// The gate decides when (due, early, during an outage); the method only answers.
protocol SessionRevalidator: Sendable {
    func revalidate(_ session: Session) async -> Revalidation
    /// Whether a background revalidation before the due time could succeed (Entra: only with
    /// a refresh token), so a session that cannot is not ended early.
    func revalidatesEarly(_ session: Session) -> Bool
    /// Whether a request must wait for a revalidation first: every `revalidateEvery` by
    /// default; a method may ask for more (local sessions after any reload).
    func isDue(_ session: Session, rules: SessionRules, now: Date) -> Bool
}

extension SessionRevalidator {
    func isDue(_ session: Session, rules: SessionRules, now: Date) -> Bool {
        now >= session.validated.addingTimeInterval(rules.revalidateEvery)
    }
}

/// A sign-in method's answer about one session.
enum Revalidation: Sendable {
    /// Still good, with the identity as the method sees it now (roles and groups may have
    /// changed) and the newest refresh token.
    case confirmed(Identity, refreshToken: String?)
    /// The method refuses the session: it ends (`event` and `reason` go to the audit log).
    case refused(event: String, reason: String)
    /// The method could not be asked (Entra down): the session rides its outage grace.
    case unreachable(reason: String)
}

/// The session settings of one config: how cookies are named and sealed, the lifetimes, and
/// which sign-in method revalidates which sessions. Part of the per-config runtime, so a
/// reload that adds a key or changes `revalidateEvery` applies to the next request; a class,
/// so a connection's cookie memo can tell by identity that the key ring it used is current.
final class SessionRules: Sendable {
    let keyRing: KeyRing
    let cookies: CookieSettings
    let revalidateEvery: TimeInterval
    let outageGrace: TimeInterval
    let absoluteTimeout: TimeInterval
    /// One slot per sign-in method (asked on every authenticated request, so no dictionary).
    private let ssoRevalidator: (any SessionRevalidator)?
    private let localRevalidator: (any SessionRevalidator)?
    /// When this config took effect: sessions validated before it may need a new look.
    let created: Date

    init(config: GatewayConfig, keyRing: KeyRing, revalidators: [Identity.Method: any SessionRevalidator], created: Date = Date()) {
        self.keyRing = keyRing
        self.created = created
        cookies = CookieSettings(
            sessionCookieName: config.session.cookieName, secure: config.publicURL.isTLS,
            formPost: config.entra?.responseMode == .formPost,
            sessionMaxAge: config.session.persistentCookie ? Int(config.session.absoluteTimeout) : nil,
            sessionDomain: config.session.cookieDomain)
        revalidateEvery = config.session.revalidateEvery
        outageGrace = config.session.outageGrace
        absoluteTimeout = config.session.absoluteTimeout
        ssoRevalidator = revalidators[.sso]
        localRevalidator = revalidators[.local]
    }

    /// The sign-in method that revalidates sessions of `method`, if it is configured.
    @inline(__always)
    func revalidator(for method: Identity.Method) -> (any SessionRevalidator)? {
        switch method {
        case .sso: ssoRevalidator
        case .local: localRevalidator
        }
    }

    func graceEnd(_ session: Session) -> Date {
        session.validated.addingTimeInterval(revalidateEvery + outageGrace)
    }

    static let sealContext = "portcullis session"
}
