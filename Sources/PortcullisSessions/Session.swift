import Foundation
import PortcullisCore

/// A signed-in browser: who it is and how long that holds. The browser only holds the
/// sealed session id; everything else stays in the gateway (and its store).
///
/// The fields live in one ``CopyOnWrite`` box: sessions are copied on every
/// authenticated request (out of the cache, into the decision, onto the exchange), and a copy
/// is one retain where a copy of a dozen stored fields was a dozen. The store's
/// dictionary then holds a pointer per session rather than all the fields inline.
public struct Session: Sendable, Equatable {
    private struct Fields: Sendable, Equatable {
        var id: SessionID
        var identity: Identity
        var created: Date
        var absoluteExpiry: Date
        var lastSeen: Date
        var validated: Date
        var providerSessionID: String?
        // Opaque tokens, packed (see ``CompactText``): read at logout and revalidation only.
        var logoutHint: CompactText?
        var refreshToken: CompactText?
    }

    private var fields: CopyOnWrite<Fields>

    /// New at every sign-in (no session fixation).
    public var id: SessionID {
        get { fields.value.id }
        set { fields.value.id = newValue }
    }
    public var identity: Identity {
        get { fields.value.identity }
        set { fields.value.identity = newValue }
    }
    public var created: Date {
        get { fields.value.created }
        set { fields.value.created = newValue }
    }
    /// The session ends here however active it is.
    public var absoluteExpiry: Date {
        get { fields.value.absoluteExpiry }
        set { fields.value.absoluteExpiry = newValue }
    }
    /// Last use, for the idle timeout; updated at most once a minute.
    public var lastSeen: Date {
        get { fields.value.lastSeen }
        set { fields.value.lastSeen = newValue }
    }
    /// When the provider last confirmed the identity (sign-in or refresh); revalidation is
    /// due `revalidateEvery` after it.
    public var validated: Date {
        get { fields.value.validated }
        set { fields.value.validated = newValue }
    }
    /// The provider's session id (`sid`), for front-channel logout.
    public var providerSessionID: String? {
        get { fields.value.providerSessionID }
        set { fields.value.providerSessionID = newValue }
    }
    /// `login_hint` claim, sent as `logout_hint` so the provider skips the account picker.
    public var logoutHint: String? {
        get { fields.value.logoutHint?.text }
        set { fields.value.logoutHint = newValue.map(CompactText.init) }
    }
    /// The newest refresh token (they rotate). Sealed with the key ring whenever the
    /// session leaves the process (see ``SessionCodec``).
    public var refreshToken: String? {
        get { fields.value.refreshToken?.text }
        set { fields.value.refreshToken = newValue.map(CompactText.init) }
    }

    /// Whether there is a refresh token, without unpacking it (asked on every request).
    public var hasRefreshToken: Bool { fields.value.refreshToken != nil }

    public init(
        id: SessionID, identity: Identity, created: Date, absoluteExpiry: Date, lastSeen: Date? = nil,
        validated: Date? = nil, providerSessionID: String? = nil, logoutHint: String? = nil, refreshToken: String? = nil
    ) {
        fields = CopyOnWrite(
            Fields(
                id: id, identity: identity, created: created, absoluteExpiry: absoluteExpiry, lastSeen: lastSeen ?? created,
                validated: validated ?? created, providerSessionID: providerSessionID, logoutHint: logoutHint.map(CompactText.init),
                refreshToken: refreshToken.map(CompactText.init)))
    }

    /// When the session ends if unused: the earlier of its absolute expiry and the idle limit.
    public func expiry(idleTimeout: TimeInterval) -> Date {
        min(absoluteExpiry, lastSeen.addingTimeInterval(idleTimeout))
    }

    public func isLive(at now: Date, idleTimeout: TimeInterval) -> Bool {
        now < expiry(idleTimeout: idleTimeout)
    }
}
