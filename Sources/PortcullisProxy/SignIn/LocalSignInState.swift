import Foundation
import PortcullisCore
import Synchronization

/// What local sign-in remembers across requests and reloads: failed attempts (per account
/// and per client address), the last TOTP step each account used (so a code works once),
/// and how many Entra calls failed in a row (for `sso.autoFallbackAfter`). Process-long,
/// so a reload does not reset a lockout.
final class LocalSignInState: Sendable {
    private let throttle: Mutex<LoginThrottle?> = Mutex(nil)
    private let totpSteps = Mutex<[String: Int64]>([:])
    private let entraFailures = Atomic<Int>(0)

    /// The throttle under `config`'s settings; a reload that changes them starts afresh.
    func withThrottle<T>(_ config: LockoutConfig, _ body: (inout LoginThrottle) -> T) -> T {
        throttle.withLock { current in
            if current == nil || current!.config != config { current = LoginThrottle(config: config) }
            return body(&current!)
        }
    }

    /// The last TOTP step `account` signed in with.
    func lastTOTPStep(_ account: String) -> Int64? { totpSteps.withLock { $0[account] } }

    /// Records `step` for `account`; false when it (or a later one) was already used.
    func useTOTPStep(_ step: Int64, for account: String) -> Bool {
        totpSteps.withLock { steps in
            if let last = steps[account], step <= last { return false }
            if steps.count > 100_000 { steps.removeAll(keepingCapacity: true) }
            steps[account] = step
            return true
        }
    }

    /// Counts a failure; returns the failures in a row now.
    @discardableResult
    func entraFailed() -> Int { entraFailures.wrappingAdd(1, ordering: .relaxed).newValue }
    /// Entra answered; returns the failures in a row before it did.
    @discardableResult
    func entraAnswered() -> Int { entraFailures.exchange(0, ordering: .relaxed) }
    var consecutiveEntraFailures: Int { entraFailures.load(ordering: .relaxed) }
}
