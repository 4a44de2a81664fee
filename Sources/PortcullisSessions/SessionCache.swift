import Foundation
import PortcullisAuth
import PortcullisCore
import Synchronization

/// The in-process session cache, read synchronously on the event loop of every
/// authenticated request: one lock and one dictionary lookup, no task hop. With no shared
/// store configured it *is* the store (`memory`, the embedded default).
///
/// Bounded: beyond `capacity` the least recently used sessions are dropped, so a flood of
/// sign-ins cannot grow memory without limit. Recency is kept in a queue of touch stamps
/// (amortised O(1)); a session is re-queued at most once per ``touchInterval``, the same
/// granularity as its `lastSeen`.
public final class SessionCache: Sendable {
    public let capacity: Int
    public let idleTimeout: TimeInterval
    /// How often a session in use has its `lastSeen` moved (and a shared store told).
    public static let touchInterval: TimeInterval = 60

    private struct Entry {
        var session: Session
        var stamp: UInt64
    }

    private struct State {
        var entries: [SessionID: Entry] = [:]
        var shared = SharedValues()
        var order: [(id: SessionID, stamp: UInt64)] = []
        var orderStart = 0
        var nextStamp: UInt64 = 0
    }

    private let state = Mutex(State())

    public init(capacity: Int, idleTimeout: TimeInterval) {
        self.capacity = capacity
        self.idleTimeout = idleTimeout
    }

    /// A cache hit: the session as it is now, and whether this use moved its `lastSeen`
    /// (at most once a minute), which a shared store should then hear about.
    public struct Hit: Sendable {
        public var session: Session
        public var touched: Bool
    }

    /// The live session with this id, touching it; nil when absent, expired or idle too long.
    public func lookup(id: SessionID, now: Date = Date()) -> Hit? {
        state.withLock { state in
            guard var entry = state.entries[id] else { return nil }
            if !entry.session.isLive(at: now, idleTimeout: idleTimeout) {
                state.entries[id] = nil
                return nil
            }
            guard now.timeIntervalSince(entry.session.lastSeen) >= Self.touchInterval else {
                return Hit(session: entry.session, touched: false)
            }
            entry.session.lastSeen = now
            entry.stamp = Self.enqueue(id, in: &state)
            state.entries[id] = entry
            return Hit(session: entry.session, touched: true)
        }
    }

    public func put(_ session: Session) {
        state.withLock { state in insert(session, into: &state) }
    }

    /// Replaces the cached copy of a session that is still here; false (and nothing stored)
    /// when it was ended meanwhile, so an update never brings back a logged-out session.
    public func replaceIfPresent(_ session: Session) -> Bool {
        state.withLock { state in
            guard state.entries[session.id] != nil else { return false }
            insert(session, into: &state)
            return true
        }
    }

    private func insert(_ session: Session, into state: inout State) {
        var session = session
        session.identity = state.shared.sharing(session.identity)
        let stamp = Self.enqueue(session.id, in: &state)
        state.entries[session.id] = Entry(session: session, stamp: stamp)
        while state.entries.count > capacity, state.orderStart < state.order.count {
            let oldest = state.order[state.orderStart]
            state.orderStart += 1
            if state.entries[oldest.id]?.stamp == oldest.stamp { state.entries[oldest.id] = nil }
        }
        Self.compact(&state)
    }

    @discardableResult
    public func remove(id: SessionID) -> Session? {
        state.withLock { $0.entries.removeValue(forKey: id)?.session }
    }

    /// Ends every session of a provider session (`sid`), for front-channel logout.
    @discardableResult
    public func remove(providerSessionID sid: String) -> Int {
        remove { $0.providerSessionID == sid }
    }

    /// Ends every session of a user, for admin revocation.
    @discardableResult
    public func remove(username: String) -> Int {
        remove { $0.identity.username == username }
    }

    /// Applies a change made elsewhere (another instance, the CLI).
    public func apply(_ eviction: SessionEviction) {
        switch eviction {
        case .session(let id): remove(id: id)
        case .user(let username): remove(username: username)
        case .providerSession(let sid): remove(providerSessionID: sid)
        case .everything: state.withLock { $0.entries = [:]; $0.order = []; $0.orderStart = 0 }
        }
    }

    /// A linear scan: revocations are rare and admin-driven, lookups are not.
    private func remove(where matches: (Session) -> Bool) -> Int {
        state.withLock { state in
            let ids = state.entries.filter { matches($0.value.session) }.map(\.key)
            for id in ids { state.entries[id] = nil }
            return ids.count
        }
    }

    public var count: Int { state.withLock { $0.entries.count } }

    private static func enqueue(_ id: SessionID, in state: inout State) -> UInt64 {
        state.nextStamp += 1
        state.order.append((id, state.nextStamp))
        return state.nextStamp
    }

    /// Drops queue slots already consumed or superseded once they dominate the queue.
    private static func compact(_ state: inout State) {
        let live = state.order.count - state.orderStart
        guard state.order.count > 1024, live < state.order.count / 2 || live > 2 * state.entries.count + 1024 else { return }
        state.order = state.order[state.orderStart...].filter { state.entries[$0.id]?.stamp == $0.stamp }
        state.orderStart = 0
    }
}

/// One copy of the values many sessions repeat: the tenant id, the role list, the group ids
/// (an organisation has far fewer groups and role sets than signed-in users). Bounded, so a
/// directory with unusually many distinct values costs at most the table, never more.
struct SharedValues {
    static let limit = 20_000
    private var strings: [String: String] = [:]
    private var lists: [[String]: [String]] = [:]

    mutating func sharing(_ identity: Identity) -> Identity {
        var shared = identity
        if let tenant = identity.tenantId { shared.tenantId = string(tenant) }
        shared.roles = list(identity.roles)
        if !identity.groups.isEmpty { shared.groups = identity.groups.map { string($0) } }
        return shared
    }

    private mutating func string(_ value: String) -> String {
        if let known = strings[value] { return known }
        if strings.count < Self.limit { strings[value] = value }
        return value
    }

    private mutating func list(_ values: [String]) -> [String] {
        if values.isEmpty { return values }
        if let known = lists[values] { return known }
        if lists.count < Self.limit { lists[values] = values }
        return values
    }
}

/// The `memory` store: the cache itself. Nothing outside the process sees these sessions,
/// so there is nothing to run and nothing to hear from elsewhere.
extension SessionCache: SessionStore {
    public func run(evict: @escaping @Sendable (SessionEviction) -> Void) async throws {
        while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
    }

    /// Nothing is kept at rest: the cache seals nothing.
    public func useKeys(_ keyRing: KeyRing) {}

    public func session(id: SessionID) async throws -> Session? { lookup(id: id)?.session }

    /// The cache derives the session's end from its own timeouts; `ttl` adds nothing.
    public func put(_ session: Session, ttl: TimeInterval) async throws { put(session) }

    public func touch(_ session: Session, ttl: TimeInterval) async throws {}

    public func replace(_ session: Session, ttl: TimeInterval) async throws -> Bool {
        replaceIfPresent(session)
    }

    public func delete(id: SessionID) async throws { remove(id: id) }

    public func deleteAll(username: String) async throws -> Int { remove(username: username) }

    public func deleteAll(providerSessionID: String) async throws -> Int { remove(providerSessionID: providerSessionID) }

    public func count() async throws -> Int { count }
}
