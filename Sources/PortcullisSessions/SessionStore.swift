import Foundation
import PortcullisAuth

/// Where sessions live. The gateway reads its in-process ``SessionCache`` on every request;
/// a store behind it is asked only on a cache miss and told of every change.
///
/// Two kinds: the cache itself (`memory`, the embedded default: sessions live and die with
/// the process) and PostgreSQL (`postgres`, shared by every gateway instance).
public protocol SessionStore: Sendable {
    /// Keeps the store working while the gateway runs (connections, listening for changes
    /// made by other instances, sweeping expired rows) and reports each session ended
    /// elsewhere through `evict`, so the caller drops it from its cache. Returns when the
    /// surrounding task is cancelled.
    func run(evict: @escaping @Sendable (SessionEviction) -> Void) async throws

    /// The keys the store seals what it keeps at rest with (refresh tokens): the running
    /// config's, given at start and again by each applied reload, so a key added to the keys
    /// file seals from then on, and a key removed from it opens nothing any more (a session
    /// whose token it sealed can no longer be refreshed, and ends at its revalidation).
    func useKeys(_ keyRing: KeyRing)

    /// The session with this id, or nil when there is none or it has expired.
    func session(id: SessionID) async throws -> Session?

    /// Stores a new session; the store forgets it `ttl` seconds from now.
    func put(_ session: Session, ttl: TimeInterval) async throws

    /// Moves an existing session's `lastSeen` and expiry (no other instance needs to hear).
    /// A session ended meanwhile stays ended: a touch never re-creates one.
    func touch(_ session: Session, ttl: TimeInterval) async throws

    /// Stores a changed session (revalidated identity, rotated refresh token) and has every
    /// other instance drop its cached copy, so their next use reloads it. Returns false, and
    /// stores nothing, when the session no longer exists: a logout or revocation that landed
    /// while it was being revalidated wins.
    @discardableResult
    func replace(_ session: Session, ttl: TimeInterval) async throws -> Bool

    /// Ends one session everywhere.
    func delete(id: SessionID) async throws

    /// Ends every session of a user (by host-system username), everywhere; returns how many.
    @discardableResult
    func deleteAll(username: String) async throws -> Int

    /// Ends every session of a provider session (`sid`, front-channel logout); returns how many.
    @discardableResult
    func deleteAll(providerSessionID: String) async throws -> Int

    /// Live sessions in the store.
    func count() async throws -> Int
}

/// A change made elsewhere that every instance's cache must follow.
public enum SessionEviction: Sendable, Equatable {
    /// One session ended or changed (its next use reloads it from the store).
    case session(SessionID)
    /// Every session of this username ended.
    case user(String)
    /// Every session of this provider session (`sid`) ended.
    case providerSession(String)
    /// Changes may have been missed (the store's change feed was interrupted): drop every
    /// cached session, so each is read afresh from the store. Never sent between instances.
    case everything

    /// The wire form carried by store notifications: `s:<hex id>`, `u:<username>`, `p:<sid>`.
    public var message: String {
        switch self {
        case .session(let id): "s:" + id.hex
        case .user(let username): "u:" + username
        case .providerSession(let sid): "p:" + sid
        case .everything: "*"
        }
    }

    /// Parses ``message``; nil for anything else.
    public init?(message: String) {
        guard message.count >= 3, message.dropFirst().hasPrefix(":") else { return nil }
        let value = String(message.dropFirst(2))
        switch message.first {
        case "s":
            guard let id = SessionID(hex: value) else { return nil }
            self = .session(id)
        case "u": self = .user(value)
        case "p": self = .providerSession(value)
        default: return nil
        }
    }
}

/// The store could not be reached or answered with an error. The gateway answers a cache
/// miss with 503 (fail closed) while this lasts; cached sessions keep working.
public struct SessionStoreUnavailable: Error, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "session store unavailable: \(reason)" }
}
