import Foundation
import Synchronization

/// The in-process session store, read synchronously on the event loop of every
/// authenticated request: one lock and one dictionary lookup, no task hop.
///
/// Bounded: beyond `capacity` the least recently used sessions are dropped, so a flood of
/// sign-ins cannot grow memory without limit. Recency is kept in a queue of touch stamps
/// (amortised O(1)); a session is re-queued at most once per ``touchInterval``, the same
/// granularity as its `lastSeen`.
public final class SessionCache: Sendable {
    public let capacity: Int
    public let idleTimeout: TimeInterval
    static let touchInterval: TimeInterval = 60

    private struct Entry {
        var session: Session
        var stamp: UInt64
    }

    private struct State {
        var entries: [SessionID: Entry] = [:]
        var order: [(id: SessionID, stamp: UInt64)] = []
        var orderStart = 0
        var nextStamp: UInt64 = 0
    }

    private let state = Mutex(State())

    public init(capacity: Int, idleTimeout: TimeInterval) {
        self.capacity = capacity
        self.idleTimeout = idleTimeout
    }

    /// The live session with this id, touching it; nil when absent, expired or idle too long.
    public func session(id: SessionID, now: Date = Date()) -> Session? {
        state.withLock { state in
            guard var entry = state.entries[id] else { return nil }
            let session = entry.session
            if now >= session.absoluteExpiry || now.timeIntervalSince(session.lastSeen) >= idleTimeout {
                state.entries[id] = nil
                return nil
            }
            if now.timeIntervalSince(session.lastSeen) >= Self.touchInterval {
                entry.session.lastSeen = now
                entry.stamp = Self.enqueue(id, in: &state)
                state.entries[id] = entry
            }
            return session
        }
    }

    public func put(_ session: Session) {
        state.withLock { state in
            let stamp = Self.enqueue(session.id, in: &state)
            state.entries[session.id] = Entry(session: session, stamp: stamp)
            while state.entries.count > capacity, state.orderStart < state.order.count {
                let oldest = state.order[state.orderStart]
                state.orderStart += 1
                if state.entries[oldest.id]?.stamp == oldest.stamp { state.entries[oldest.id] = nil }
            }
            Self.compact(&state)
        }
    }

    @discardableResult
    public func remove(id: SessionID) -> Session? {
        state.withLock { $0.entries.removeValue(forKey: id)?.session }
    }

    /// Ends every session of a provider session (`sid`), for front-channel logout.
    @discardableResult
    public func remove(providerSessionID sid: String) -> Int {
        state.withLock { state in
            let ids = state.entries.filter { $0.value.session.providerSessionID == sid }.map(\.key)
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
