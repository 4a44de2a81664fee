import Foundation
import Logging
import NIOCore
import PortcullisAuth
import PortcullisCore
import PortcullisSessions
import Synchronization

/// The sign-in-agnostic session layer: cookie → session id → cache (or store on a miss) →
/// expiry and revalidation scheduling. It lives for the process, so a reload keeps every
/// session; what a config decides (keys, cookie names, lifetimes, which method revalidates
/// what) arrives with each call as ``SessionRules``. Sign-in methods create sessions through
/// it and answer its revalidations (``SessionRevalidator``); the data plane knows only this.
public final class SessionGate: Sendable {
    let sessions: GatewaySessions
    let audit: Logger
    let now: @Sendable () -> Date
    /// Revalidations in flight, one per session however many requests wait on it.
    private let revalidations = Mutex<[SessionID: Task<SessionResolution, Never>]>([:])
    /// Sessions whose revalidation found their method unreachable: not retried before this time.
    private let outageRetries = Mutex<[SessionID: Date]>([:])

    /// How long a session whose revalidation found Entra unreachable waits before the next
    /// attempt, so an outage is not answered with a refresh per request.
    static let outageRetryInterval: TimeInterval = 30
    /// Share of `revalidateEvery` after which a session in use is revalidated in the
    /// background, so an active user rarely waits for Entra at the due time.
    static let earlyRevalidation = 0.8

    /// - Parameter store: the shared store behind the cache (`postgres`), or nil for `memory`,
    ///   where the cache is the store. The composition root builds it.
    public init(
        config: SessionConfig, store: (any SessionStore)?, audit: Logger, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        sessions = GatewaySessions(config: config, store: store, logger: logger)
        self.audit = audit
        self.now = now
    }

    /// The in-process session cache (for tests and the admin surface).
    public var cache: SessionCache { sessions.cache }

    /// Runs the shared store's background work (connections, change notifications, sweeping)
    /// until cancelled; returns at once for the `memory` store.
    public func run() async {
        await sessions.run()
    }

    // MARK: Hot path

    /// Synchronous on the event loop for a cache hit (the common case): one lock and one
    /// dictionary lookup after opening the cookie.
    /// `metrics` (the calling loop's) counts cache hits and misses.
    func check(
        cookieHeaders: some Sequence<String>, memo: inout SessionCookieMemo, rules: SessionRules, on eventLoop: EventLoop, counting metrics: LoopMetrics? = nil
    ) -> SessionCheck {
        let time = now()
        var hit: SessionCache.Hit?
        // Ids the cache does not hold; allocated only on a miss (an empty array is free).
        var missed: [SessionID] = []
        forEachSessionID(cookieHeaders, memo: &memo, rules: rules) { id in
            hit = sessions.cache.lookup(id: id, now: time)
            if hit == nil { missed.append(id) }
            return hit == nil
        }
        if let hit {
            metrics?.sessionLookups.hits &+= 1
            if hit.touched { sessions.touched(hit.session, now: time) }
            guard revalidationDue(hit.session, rules: rules, now: time) else {
                revalidateEarlyIfNear(hit.session, rules: rules, now: time)
                return .live(hit.session)
            }
            let session = hit.session
            return .pending(eventLoop.makeFutureWithTask { await self.revalidate(session, rules: rules) })
        }
        if !missed.isEmpty { metrics?.sessionLookups.misses &+= 1 }
        guard !missed.isEmpty, sessions.sharedStore != nil else { return .anonymous }
        let ids = missed
        return .pending(eventLoop.makeFutureWithTask { await self.load(ids, rules: rules) })
    }

    /// Visits the session ids the cookies carry until `body` returns false. Any cookie that
    /// does not open (tampered, truncated, foreign key, garbage) is simply not one. A cookie
    /// identical to the one the connection's memo opened last, under the same rules, is not
    /// opened again.
    func forEachSessionID(
        _ cookieHeaders: some Sequence<String>, memo: inout SessionCookieMemo, rules: SessionRules, _ body: (SessionID) -> Bool
    ) {
        let name = rules.cookies.sessionNameBytes
        CookieHeader.scanPairs(in: cookieHeaders) { _, bytes, nameRange, valueRange in
            guard CookieHeader.equals(bytes, nameRange, name) else { return true }
            let sealed = UnsafeBufferPointer(rebasing: bytes[valueRange])
            if let id = memo.id(for: sealed, rules: rules) { return body(id) }
            guard let opened = rules.keyRing.open(bytes: sealed, context: SessionRules.sealContext),
                let id = SessionID(bytes: opened)
            else { return true }
            memo.remember(sealed, opensTo: id, rules: rules)
            return body(id)
        }
    }

    /// The session ids a request's cookies carry (normally one).
    func sessionIDs(cookieHeaders: [String], rules: SessionRules) -> [SessionID] {
        var ids: [SessionID] = []
        var memo = SessionCookieMemo()
        forEachSessionID(cookieHeaders, memo: &memo, rules: rules) { id in
            ids.append(id)
            return true
        }
        return ids
    }

    /// Whether a request must wait for the session to be confirmed by its sign-in method
    /// first. While the method is unreachable a session within its outage grace is let
    /// through (and each such use audited) until the next retry is due.
    func revalidationDue(_ session: Session, rules: SessionRules, now time: Date) -> Bool {
        let due = rules.revalidator(for: session.identity.method)?.isDue(session, rules: rules, now: time)
        guard due ?? (time >= session.validated.addingTimeInterval(rules.revalidateEvery)) else { return false }
        guard let retry = outageRetries.withLock({ $0[session.id] }), time < retry else { return true }
        if time >= rules.graceEnd(session) { return true }
        audit.warning(
            "session used while its sign-in provider is unreachable",
            metadata: ["event": "session.outage_grace", "user": "\(session.identity.username)", "graceEnds": "\(rules.graceEnd(session))"])
        return false
    }

    /// Starts a background revalidation when the session is close to due (and none is
    /// running, and its method is not known to be down); the request goes on meanwhile.
    func revalidateEarlyIfNear(_ session: Session, rules: SessionRules, now time: Date) {
        guard time >= session.validated.addingTimeInterval(rules.revalidateEvery * Self.earlyRevalidation),
            let revalidator = rules.revalidator(for: session.identity.method), revalidator.revalidatesEarly(session),
            revalidations.withLock({ $0[session.id] == nil }),
            outageRetries.withLock({ $0[session.id] == nil })
        else { return }
        Task { _ = await self.revalidate(session, rules: rules) }
    }

    /// A cache miss: the shared store decides.
    private func load(_ ids: [SessionID], rules: SessionRules) async -> SessionResolution {
        let time = now()
        for id in ids {
            let session: Session?
            do {
                session = try await sessions.load(id: id, now: time)
            } catch {
                audit.error("session store unavailable", metadata: ["event": "session.store_unavailable", "reason": "\(error)"])
                return .unavailable
            }
            guard let session else { continue }
            return revalidationDue(session, rules: rules, now: time) ? await revalidate(session, rules: rules) : .live(session)
        }
        return .anonymous
    }

    // MARK: Revalidation

    /// Confirms a session with its sign-in method, once however many requests wait on it.
    func revalidate(_ session: Session, rules: SessionRules) async -> SessionResolution {
        let task = revalidations.withLock { running in
            if let task = running[session.id] { return task }
            let task = Task { await self.performRevalidation(session, rules: rules) }
            running[session.id] = task
            return task
        }
        let resolution = await task.value
        revalidations.withLock { running in
            if running[session.id] == task { running[session.id] = nil }
        }
        return resolution
    }

    /// Asks the session's sign-in method; its refusal ends the session, its outage keeps the
    /// session within the outage grace, and a session whose method is no longer configured
    /// ends (fail closed).
    private func performRevalidation(_ cached: Session, rules: SessionRules) async -> SessionResolution {
        var session = cached
        let time = now()
        // Another instance may have revalidated it already (and holds the newest refresh token).
        if let stored = await sessions.fresh(cached), stored.validated > session.validated {
            session = stored
            session.lastSeen = max(stored.lastSeen, cached.lastSeen)
            sessions.cache.put(session)
            if time < session.validated.addingTimeInterval(rules.revalidateEvery) { return .live(session) }
        }
        let user = session.identity.username
        func end(_ event: String, _ reason: String) async -> SessionResolution {
            outageRetries.withLock { $0[session.id] = nil }
            await sessions.end(id: session.id)
            audit.warning("session ended at revalidation", metadata: ["event": "\(event)", "user": "\(user)", "reason": "\(reason)"])
            return .anonymous
        }
        guard let revalidator = rules.revalidator(for: session.identity.method) else {
            return await end("session.revalidation_impossible", "sign-in method \(session.identity.method.rawValue) is not configured")
        }
        switch await revalidator.revalidate(session) {
        case .refused(let event, let reason):
            return await end(event, reason)
        case .unreachable(let reason):
            guard time < rules.graceEnd(session) else {
                return await end("session.outage_grace_over", "sign-in provider unreachable beyond outageGrace: \(reason)")
            }
            outageRetries.withLock { retries in
                if retries.count > 10_000 { retries = retries.filter { $0.value > time } }
                retries[session.id] = time.addingTimeInterval(Self.outageRetryInterval)
            }
            audit.warning(
                "session used while its sign-in provider is unreachable",
                metadata: ["event": "session.outage_grace", "user": "\(user)", "graceEnds": "\(rules.graceEnd(session))", "reason": "\(reason)"])
            return .live(session)
        case .confirmed(let identity, let refreshToken):
            // The same account, or nothing: a revalidation must never turn into someone else.
            guard identity.objectId == session.identity.objectId, identity.tenantId == session.identity.tenantId,
                identity.method == session.identity.method
            else {
                return await end("session.revalidation_refused", "the revalidated identity names another account")
            }
            let changed = identity != session.identity
            session.identity = identity
            session.validated = time
            if let refreshToken { session.refreshToken = refreshToken }
            outageRetries.withLock { $0[session.id] = nil }
            guard await sessions.update(session, now: time) else {
                // Logged out or revoked elsewhere while the provider was being asked.
                audit.notice(
                    "session ended elsewhere during its revalidation", metadata: ["event": "session.ended_during_revalidation", "user": "\(user)"])
                return .anonymous
            }
            audit.info(
                "session revalidated",
                metadata: [
                    "event": "session.revalidated", "user": "\(user)", "changed": "\(changed)", "roles": "\(identity.roles.count)",
                    "groups": "\(identity.groups.count)",
                ])
            return .live(session)
        }
    }

    // MARK: Sign-in methods' side

    /// Starts a session for `identity`; returns the `Set-Cookie` value that carries it.
    /// Throws (and nothing is kept) when the store cannot take it.
    func create(
        _ identity: Identity, providerSessionID: String? = nil, logoutHint: String? = nil, refreshToken: String? = nil,
        rules: SessionRules
    ) async throws -> String {
        let time = now()
        let id = SessionID.random()
        let session = Session(
            id: id, identity: identity, created: time, absoluteExpiry: time.addingTimeInterval(rules.absoluteTimeout),
            providerSessionID: providerSessionID, logoutHint: logoutHint, refreshToken: refreshToken)
        try await sessions.create(session, now: time)
        let sealed = rules.keyRing.seal(id.bytes, context: SessionRules.sealContext)
        return rules.cookies.setCookie(rules.cookies.sessionName, value: sealed, maxAge: rules.cookies.sessionMaxAge)
    }

    /// Ends every session the request's cookies carry, here and everywhere, auditing each;
    /// returns the last one found (for the provider's end-session redirect).
    func endSessions(cookieHeaders: [String], rules: SessionRules, peer: String) async -> Session? {
        var session: Session?
        for id in sessionIDs(cookieHeaders: cookieHeaders, rules: rules) {
            let found: Session?
            if let hit = sessions.cache.lookup(id: id, now: now()) {
                found = hit.session
            } else {
                found = try? await sessions.load(id: id, now: now())
            }
            let everywhere = await sessions.end(id: id)
            if let found {
                session = found
                audit.info(
                    "signed out",
                    metadata: ["event": "signout", "user": "\(found.identity.username)", "everywhere": "\(everywhere)", "peer": "\(peer)"])
            }
        }
        return session
    }

    /// Ends every session of a provider session (`sid`), here and everywhere.
    func endAll(providerSessionID sid: String) async -> Int {
        await sessions.endAll(providerSessionID: sid)
    }
}
