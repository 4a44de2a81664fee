import Foundation
import PortcullisCore

/// A signed-in browser: who it is and how long that holds. The browser only holds the
/// sealed session id; everything else stays in the gateway (and its store).
///
/// A value type over one shared, copy-on-write record: sessions are copied on every
/// authenticated request (out of the cache, into the decision, onto the exchange), and a copy
/// of the record is one retain where a copy of a dozen stored fields was a dozen. The store's
/// dictionary then holds a pointer per session rather than the whole record inline.
public struct Session: Sendable, Equatable {
    private final class Record: @unchecked Sendable {
        // Mutated only through `Session`'s setters, after `isKnownUniquelyReferenced`.
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

        init(
            id: SessionID, identity: Identity, created: Date, absoluteExpiry: Date, lastSeen: Date, validated: Date,
            providerSessionID: String?, logoutHint: CompactText?, refreshToken: CompactText?
        ) {
            self.id = id
            self.identity = identity
            self.created = created
            self.absoluteExpiry = absoluteExpiry
            self.lastSeen = lastSeen
            self.validated = validated
            self.providerSessionID = providerSessionID
            self.logoutHint = logoutHint
            self.refreshToken = refreshToken
        }

        func copy() -> Record {
            Record(
                id: id, identity: identity, created: created, absoluteExpiry: absoluteExpiry, lastSeen: lastSeen,
                validated: validated, providerSessionID: providerSessionID, logoutHint: logoutHint, refreshToken: refreshToken)
        }
    }

    private var record: Record

    private var unique: Record {
        mutating get {
            if !isKnownUniquelyReferenced(&record) { record = record.copy() }
            return record
        }
    }

    /// New at every sign-in (no session fixation).
    public var id: SessionID {
        get { record.id }
        set { unique.id = newValue }
    }
    public var identity: Identity {
        get { record.identity }
        set { unique.identity = newValue }
    }
    public var created: Date {
        get { record.created }
        set { unique.created = newValue }
    }
    /// The session ends here however active it is.
    public var absoluteExpiry: Date {
        get { record.absoluteExpiry }
        set { unique.absoluteExpiry = newValue }
    }
    /// Last use, for the idle timeout; updated at most once a minute.
    public var lastSeen: Date {
        get { record.lastSeen }
        set { unique.lastSeen = newValue }
    }
    /// When the provider last confirmed the identity (sign-in or refresh); revalidation is
    /// due `revalidateEvery` after it.
    public var validated: Date {
        get { record.validated }
        set { unique.validated = newValue }
    }
    /// The provider's session id (`sid`), for front-channel logout.
    public var providerSessionID: String? {
        get { record.providerSessionID }
        set { unique.providerSessionID = newValue }
    }
    /// `login_hint` claim, sent as `logout_hint` so the provider skips the account picker.
    public var logoutHint: String? {
        get { record.logoutHint?.text }
        set { unique.logoutHint = newValue.map(CompactText.init) }
    }
    /// The newest refresh token (they rotate). Sealed with the key ring whenever the
    /// session leaves the process (see ``SessionCodec``).
    public var refreshToken: String? {
        get { record.refreshToken?.text }
        set { unique.refreshToken = newValue.map(CompactText.init) }
    }

    /// Whether there is a refresh token, without unpacking it (asked on every request).
    public var hasRefreshToken: Bool { record.refreshToken != nil }

    public init(
        id: SessionID, identity: Identity, created: Date, absoluteExpiry: Date, lastSeen: Date? = nil,
        validated: Date? = nil, providerSessionID: String? = nil, logoutHint: String? = nil, refreshToken: String? = nil
    ) {
        record = Record(
            id: id, identity: identity, created: created, absoluteExpiry: absoluteExpiry, lastSeen: lastSeen ?? created,
            validated: validated ?? created, providerSessionID: providerSessionID, logoutHint: logoutHint.map(CompactText.init),
            refreshToken: refreshToken.map(CompactText.init))
    }

    public static func == (lhs: Session, rhs: Session) -> Bool {
        if lhs.record === rhs.record { return true }
        let a = lhs.record
        let b = rhs.record
        return a.id == b.id && a.identity == b.identity && a.created == b.created && a.absoluteExpiry == b.absoluteExpiry
            && a.lastSeen == b.lastSeen && a.validated == b.validated && a.providerSessionID == b.providerSessionID
            && a.logoutHint == b.logoutHint && a.refreshToken == b.refreshToken
    }

    /// When the session ends if unused: the earlier of its absolute expiry and the idle limit.
    public func expiry(idleTimeout: TimeInterval) -> Date {
        min(absoluteExpiry, lastSeen.addingTimeInterval(idleTimeout))
    }

    public func isLive(at now: Date, idleTimeout: TimeInterval) -> Bool {
        now < expiry(idleTimeout: idleTimeout)
    }
}
