import Foundation

/// Whether a password attempt may be checked now, from ``LoginThrottle``.
public enum ThrottleDecision: Sendable, Equatable {
    case allowed
    /// A recent failure: no attempt before `until` (exponential backoff). Refuse without
    /// checking the password, so guessing costs wall-clock time.
    case wait(until: Date)
    /// Too many failures within the window: no attempt before `until`.
    case locked(until: Date)
}
