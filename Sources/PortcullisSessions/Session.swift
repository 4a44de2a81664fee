import Foundation
import PortcullisCore

/// A signed-in browser: who it is and how long that holds. The browser only holds the
/// sealed session id; everything else stays in the gateway (and its store).
public struct Session: Sendable, Equatable {
    /// New at every sign-in (no session fixation).
    public var id: SessionID
    public var identity: Identity
    public var created: Date
    /// The session ends here however active it is.
    public var absoluteExpiry: Date
    /// Last use, for the idle timeout; updated at most once a minute.
    public var lastSeen: Date
    /// When the provider last confirmed the identity (sign-in or refresh); revalidation is
    /// due `revalidateEvery` after it.
    public var validated: Date
    /// The provider's session id (`sid`), for front-channel logout.
    public var providerSessionID: String?
    /// `login_hint` claim, sent as `logout_hint` so the provider skips the account picker.
    public var logoutHint: String?
    /// The newest refresh token (they rotate). Sealed with the key ring whenever the
    /// session leaves the process (see ``SessionCodec``).
    public var refreshToken: String?

    public init(
        id: SessionID, identity: Identity, created: Date, absoluteExpiry: Date, lastSeen: Date? = nil,
        validated: Date? = nil, providerSessionID: String? = nil, logoutHint: String? = nil, refreshToken: String? = nil
    ) {
        self.id = id
        self.identity = identity
        self.created = created
        self.absoluteExpiry = absoluteExpiry
        self.lastSeen = lastSeen ?? created
        self.validated = validated ?? created
        self.providerSessionID = providerSessionID
        self.logoutHint = logoutHint
        self.refreshToken = refreshToken
    }

    /// When the session ends if unused: the earlier of its absolute expiry and the idle limit.
    public func expiry(idleTimeout: TimeInterval) -> Date {
        min(absoluteExpiry, lastSeen.addingTimeInterval(idleTimeout))
    }

    public func isLive(at now: Date, idleTimeout: TimeInterval) -> Bool {
        now < expiry(idleTimeout: idleTimeout)
    }
}
