import Foundation
import NIOConcurrencyHelpers

/// The IdP's mutable state: directory, keys and issued grants. Kept in one value so each
/// endpoint decision is one atomic step under one lock.
struct DevIdPState: Sendable {
    var directory: DevIdPDirectory
    var keys: SigningKeyRing
    var ledger = GrantLedger()
}

/// What every endpoint works against: the state, the clock and the public base URL.
///
/// The clock is injectable so tests can expire codes and tokens without waiting.
final class DevIdPAuthority: Sendable {
    let state: NIOLockedValueBox<DevIdPState>
    let now: @Sendable () -> Date
    private let base = NIOLockedValueBox("")

    init(directory: DevIdPDirectory, now: @escaping @Sendable () -> Date) throws {
        self.state = NIOLockedValueBox(DevIdPState(directory: directory, keys: SigningKeyRing(current: try .generate())))
        self.now = now
    }

    /// `http://HOST:PORT`, set once the listener is bound (the port is not known before).
    var baseURL: String {
        get { base.withLockedValue { $0 } }
        set { base.withLockedValue { $0 = newValue } }
    }

    /// The issuer for a tenant, `{base}/{tid}/v2.0` as in Entra v2.0 tokens.
    func issuer(tenantID: String) -> String { "\(baseURL)/\(tenantID)/v2.0" }
}

extension DevIdPAuthority {
    /// Generates a new key (outside the lock: RSA generation is slow) and makes it current.
    /// - Returns: the new key's `kid`.
    @discardableResult
    func rotateSigningKey(keepPrevious: Bool) throws -> String {
        let key = try SigningKey.generate()
        state.withLockedValue { $0.keys.rotate(to: key, keepPrevious: keepPrevious) }
        return key.kid
    }
}
