import Foundation
import NIOCore
import PortcullisCore
import PortcullisOIDC
import PortcullisSessions

/// What the hot path decided about a request's session.
enum SessionCheck {
    /// Proxy with this session's identity.
    case live(Session)
    /// No usable session: sign in (302) or 401.
    case anonymous
    /// The control plane must finish the decision (a store read on a cache miss, or a due
    /// revalidation); the future completes on the request's event loop.
    case pending(EventLoopFuture<SessionResolution>)
}

/// The session cookie a connection opened last, and the id it opened to. A keep-alive
/// connection sends the same cookie with every request, and opening it (base64url, then
/// AES-GCM) was the largest cost of an authenticated request after the scan itself. Held per
/// connection, so nothing is shared or grows; it remembers only a cookie that opened, under the
/// connection's one key ring, so a byte-identical cookie opens to the same id by construction.
/// Whether that session is still live is asked of the cache on every request, as before.
struct SessionCookieMemo {
    private var sealed: [UInt8] = []
    private var opened: SessionID?

    func id(for cookie: UnsafeBufferPointer<UInt8>) -> SessionID? {
        guard let opened, !cookie.isEmpty, cookie.count == sealed.count else { return nil }
        let same = sealed.withUnsafeBufferPointer { memcmp($0.baseAddress!, cookie.baseAddress!, cookie.count) == 0 }
        return same ? opened : nil
    }

    mutating func remember(_ cookie: UnsafeBufferPointer<UInt8>, opensTo id: SessionID) {
        sealed = Array(cookie)
        opened = id
    }
}

/// The control plane's decision for a pending session check.
enum SessionResolution: Sendable {
    case live(Session)
    case anonymous
    /// The session store cannot answer: 503, fail closed.
    case unavailable
}

extension SignInService {
    /// How long a session whose revalidation found Entra unreachable waits before the next
    /// attempt, so an outage is not answered with a refresh per request.
    static let outageRetryInterval: TimeInterval = 30

    /// The hot path: synchronous on the event loop for a cache hit (the common case), one
    /// lock and one dictionary lookup after opening the cookie.
    func checkSession(cookieHeaders: some Sequence<String>, memo: inout SessionCookieMemo, on eventLoop: EventLoop) -> SessionCheck {
        let time = now()
        var hit: SessionCache.Hit?
        // Ids the cache does not hold; allocated only on a miss (an empty array is free).
        var missed: [SessionID] = []
        forEachSessionID(cookieHeaders, memo: &memo) { id in
            hit = sessions.cache.lookup(id: id, now: time)
            if hit == nil { missed.append(id) }
            return hit == nil
        }
        if let hit {
            if hit.touched { sessions.touched(hit.session, now: time) }
            guard revalidationDue(hit.session, now: time) else {
                revalidateEarlyIfNear(hit.session, now: time)
                return .live(hit.session)
            }
            let session = hit.session
            return .pending(eventLoop.makeFutureWithTask { await self.revalidate(session) })
        }
        guard !missed.isEmpty, sessions.sharedStore != nil else { return .anonymous }
        let ids = missed
        return .pending(eventLoop.makeFutureWithTask { await self.load(ids) })
    }

    /// Whether a request must wait for the session to be confirmed with Entra first.
    /// While Entra is unreachable a session within its outage grace is let through (and
    /// each such use logged) until the next retry is due.
    func revalidationDue(_ session: Session, now time: Date) -> Bool {
        guard session.identity.method == .sso, time >= session.validated.addingTimeInterval(config.session.revalidateEvery) else {
            return false
        }
        guard let retry = outageRetries.withLock({ $0[session.id] }), time < retry else { return true }
        if time >= graceEnd(session) { return true }
        audit.warning(
            "session used while Entra is unreachable",
            metadata: ["event": "session.outage_grace", "user": "\(session.identity.username)", "graceEnds": "\(graceEnd(session))"])
        return false
    }

    /// Share of `revalidateEvery` after which a session in use is revalidated in the
    /// background, so an active user rarely waits for Entra at the due time.
    static let earlyRevalidation = 0.8

    /// Starts a background revalidation when the session is close to due (and none is
    /// running, and Entra is not known to be down); the request goes on meanwhile.
    func revalidateEarlyIfNear(_ session: Session, now time: Date) {
        guard time >= session.validated.addingTimeInterval(config.session.revalidateEvery * Self.earlyRevalidation),
            session.identity.method == .sso, session.hasRefreshToken,
            revalidations.withLock({ $0[session.id] == nil }),
            outageRetries.withLock({ $0[session.id] == nil })
        else { return }
        Task { _ = await self.revalidate(session) }
    }

    func graceEnd(_ session: Session) -> Date {
        session.validated.addingTimeInterval(config.session.revalidateEvery + config.session.outageGrace)
    }

    /// A cache miss: the shared store decides.
    private func load(_ ids: [SessionID]) async -> SessionResolution {
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
            return revalidationDue(session, now: time) ? await revalidate(session) : .live(session)
        }
        return .anonymous
    }

    /// Confirms a session with Entra, once however many requests wait on it.
    func revalidate(_ session: Session) async -> SessionResolution {
        let task = revalidations.withLock { running in
            if let task = running[session.id] { return task }
            let task = Task { await self.performRevalidation(session) }
            running[session.id] = task
            return task
        }
        let resolution = await task.value
        revalidations.withLock { running in
            if running[session.id] == task { running[session.id] = nil }
        }
        return resolution
    }

    /// Refresh token → fresh ID token → identity again (roles, groups, username). Entra
    /// refusing ends the session; Entra unreachable keeps it within the outage grace.
    private func performRevalidation(_ cached: Session) async -> SessionResolution {
        var session = cached
        let time = now()
        // Another instance may have revalidated it already (and holds the newest refresh token).
        if let stored = await sessions.fresh(cached), stored.validated > session.validated {
            session = stored
            session.lastSeen = max(stored.lastSeen, cached.lastSeen)
            sessions.cache.put(session)
            if time < session.validated.addingTimeInterval(config.session.revalidateEvery) { return .live(session) }
        }
        let user = session.identity.username
        func end(_ event: String, _ reason: String) async -> SessionResolution {
            outageRetries.withLock { $0[session.id] = nil }
            await sessions.end(id: session.id)
            audit.warning("session ended at revalidation", metadata: ["event": "\(event)", "user": "\(user)", "reason": "\(reason)"])
            return .anonymous
        }
        func outage(_ reason: String) async -> SessionResolution {
            guard time < graceEnd(session) else { return await end("session.outage_grace_over", "Entra unreachable beyond outageGrace: \(reason)") }
            outageRetries.withLock { retries in
                if retries.count > 10_000 { retries = retries.filter { $0.value > time } }
                retries[session.id] = time.addingTimeInterval(Self.outageRetryInterval)
            }
            audit.warning(
                "session used while Entra is unreachable",
                metadata: ["event": "session.outage_grace", "user": "\(user)", "graceEnds": "\(graceEnd(session))", "reason": "\(reason)"])
            return .live(session)
        }
        guard let refreshToken = session.refreshToken else {
            return await end("session.revalidation_impossible", "no refresh token (is offline_access among the scopes?)")
        }
        let tokens: TokenResponse
        do {
            tokens = try await provider.refresh(refreshToken: refreshToken)
        } catch {
            if Self.isOutage(error) { return await outage(error.description) }
            return await end("session.revalidation_refused", error.description)
        }
        var identity = session.identity
        if let idToken = tokens.idToken {
            let claims: [String: ClaimValue]
            switch await provider.validate(idToken: idToken, nonce: nil) {
            case .success(let validated): claims = validated
            case .failure(.provider(let error)): return await outage(error.description)
            case .failure(.token(let rejection)): return await end("session.revalidation_refused", rejection.description)
            }
            switch await self.identity(from: claims, accessToken: tokens.accessToken) {
            case .success(let refreshed):
                // The same account, or nothing: a refresh must never turn into someone else.
                guard refreshed.objectId == identity.objectId, refreshed.tenantId == identity.tenantId else {
                    return await end("session.revalidation_refused", "the refreshed ID token names another account")
                }
                identity = refreshed
            case .failure(let refusal) where refusal.status == .serviceUnavailable:
                return await outage(refusal.reason)
            case .failure(let refusal):
                return await end(refusal.event, refusal.reason)
            }
        }
        let changed = identity != session.identity
        session.identity = identity
        session.validated = time
        session.refreshToken = tokens.refreshToken ?? refreshToken
        outageRetries.withLock { $0[session.id] = nil }
        await sessions.update(session, now: time)
        audit.info(
            "session revalidated",
            metadata: [
                "event": "session.revalidated", "user": "\(user)", "changed": "\(changed)", "roles": "\(identity.roles.count)",
                "groups": "\(identity.groups.count)",
            ])
        return .live(session)
    }

    /// Entra down or failing, as opposed to Entra refusing this session: no answer, an
    /// unreadable one, or an OAuth error that says "try later".
    static func isOutage(_ error: ProviderError) -> Bool {
        switch error.kind {
        case .unreachable, .badResponse: true
        case .oauth: error.oauthError == "temporarily_unavailable" || error.oauthError == "server_error"
        }
    }
}
