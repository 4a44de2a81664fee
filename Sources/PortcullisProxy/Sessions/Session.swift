import Foundation
import PortcullisCore

/// A signed-in browser: who it is and how long that holds. The browser only holds the
/// sealed session id; everything else stays in the gateway.
public struct Session: Sendable {
    /// New at every sign-in (no session fixation).
    public var id: SessionID
    public var identity: Identity
    public var created: Date
    /// The session ends here however active it is.
    public var absoluteExpiry: Date
    /// Last use, for the idle timeout; updated at most once a minute.
    public var lastSeen: Date
    /// The provider's session id (`sid`), for front-channel logout.
    public var providerSessionID: String?
    /// `login_hint` claim, sent as `logout_hint` so the provider skips the account picker.
    public var logoutHint: String?
    public var refreshToken: String?
}
