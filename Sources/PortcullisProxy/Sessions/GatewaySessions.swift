import Foundation
import Logging
import PortcullisCore
import PortcullisSessions

/// The gateway's sessions: the in-process cache every authenticated request reads
/// synchronously, and the shared store behind it. With the `memory` store there is no
/// store behind: the cache is the store.
///
/// Writes go to both (the store first, so a session the store refused never exists);
/// changes made by other instances arrive as evictions from the store's `run` and drop the
/// cached copy. The store is touched at most once a minute per session in use.
final class GatewaySessions: Sendable {
    let cache: SessionCache
    /// Nil for `memory`.
    let sharedStore: (any SessionStore)?
    let idleTimeout: TimeInterval
    let logger: Logger

    init(config: SessionConfig, store: (any SessionStore)?, logger: Logger) {
        cache = SessionCache(capacity: config.maxSessions, idleTimeout: config.idleTimeout)
        idleTimeout = config.idleTimeout
        sharedStore = store
        self.logger = logger
    }

    /// Runs the shared store's background work (connections, change notifications,
    /// sweeping) until cancelled; it restarts after a failure, because the database coming
    /// back must bring the gateway back without a restart.
    func run() async {
        guard let store = sharedStore else { return }
        while !Task.isCancelled {
            do {
                try await store.run { [cache] eviction in cache.apply(eviction) }
            } catch {
                if Task.isCancelled { break }
                logger.error("session store stopped; restarting", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Seconds the store should keep a session: until it would expire unused.
    func ttl(_ session: Session, now: Date) -> TimeInterval {
        max(1, session.expiry(idleTimeout: idleTimeout).timeIntervalSince(now))
    }

    /// A cache miss: the store's copy, cached from now on; nil when there is none or it has
    /// expired. Throws when the store cannot answer.
    func load(id: SessionID, now: Date) async throws -> Session? {
        guard let store = sharedStore else { return nil }
        guard let session = try await store.session(id: id), session.isLive(at: now, idleTimeout: idleTimeout) else { return nil }
        cache.put(session)
        return session
    }

    /// Why the shared store cannot serve a cache miss right now, or nil when it can (or there
    /// is none): one primary-key read of an id that does not exist.
    func readinessProblem() async -> String? {
        guard let store = sharedStore else { return nil }
        do {
            _ = try await store.session(id: .random())
            return nil
        } catch {
            return "session store: \(error)"
        }
    }

    /// The stored copy, which another instance may have changed since this one cached it.
    func fresh(_ session: Session) async -> Session? {
        guard let store = sharedStore else { return nil }
        return try? await store.session(id: session.id)
    }

    /// A new session. Throws (and nothing is kept) when the store cannot take it.
    func create(_ session: Session, now: Date) async throws {
        try await sharedStore?.put(session, ttl: ttl(session, now: now))
        cache.put(session)
    }

    /// A changed session (revalidated): every other instance drops its copy. False when the
    /// store says the session was ended meanwhile (then it is dropped here too).
    func update(_ session: Session, now: Date) async -> Bool {
        guard let store = sharedStore else { return cache.replaceIfPresent(session) }
        do {
            guard try await store.replace(session, ttl: ttl(session, now: now)) else {
                cache.remove(id: session.id)
                return false
            }
        } catch {
            logger.warning("session store could not take a revalidated session", metadata: ["error": "\(error)"])
        }
        cache.put(session)
        return true
    }

    /// `lastSeen` moved: tell the store, off the request path, so the session's idle clock
    /// is shared by every instance.
    func touched(_ session: Session, now: Date) {
        guard let store = sharedStore else { return }
        let ttl = ttl(session, now: now), logger = logger
        Task {
            do { try await store.touch(session, ttl: ttl) } catch { logger.debug("session touch not stored", metadata: ["error": "\(error)"]) }
        }
    }

    /// Ends one session here and everywhere. False when the store could not be told (the
    /// session is gone from this instance only).
    @discardableResult
    func end(id: SessionID) async -> Bool {
        cache.remove(id: id)
        do {
            try await sharedStore?.delete(id: id)
            return true
        } catch {
            logger.error("session store could not end a session", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Ends every session of a provider session (`sid`), here and everywhere.
    func endAll(providerSessionID sid: String) async -> Int {
        let local = cache.remove(providerSessionID: sid)
        guard let store = sharedStore else { return local }
        do {
            return max(local, try await store.deleteAll(providerSessionID: sid))
        } catch {
            logger.error("session store could not end provider sessions", metadata: ["error": "\(error)"])
            return local
        }
    }
}
