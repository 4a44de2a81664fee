import Foundation
import NIOCore
import PortcullisCore
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
/// The memo answers only under the rules (key ring) it opened with: after a reload the
/// cookie is opened again under the new keys, so a key removed from the keys file stops
/// opening cookies on open connections too.
struct SessionCookieMemo {
    private var sealed: [UInt8] = []
    private var opened: SessionID?
    private var rules: SessionRules?

    func id(for cookie: UnsafeBufferPointer<UInt8>, rules: SessionRules) -> SessionID? {
        guard let opened, self.rules === rules, !cookie.isEmpty, cookie.count == sealed.count else { return nil }
        let same = sealed.withUnsafeBufferPointer { memcmp($0.baseAddress!, cookie.baseAddress!, cookie.count) == 0 }
        return same ? opened : nil
    }

    mutating func remember(_ cookie: UnsafeBufferPointer<UInt8>, opensTo id: SessionID, rules: SessionRules) {
        sealed = Array(cookie)
        opened = id
        self.rules = rules
    }
}

/// The control plane's decision for a pending session check.
enum SessionResolution: Sendable {
    case live(Session)
    case anonymous
    /// The session store cannot answer: 503, fail closed.
    case unavailable
}
